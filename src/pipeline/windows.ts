/** A window of consecutive words: [firstWord, endWord). */
export interface WordWindow {
  readonly firstWord: number;
  readonly endWord: number;
}

/**
 * Splits `wordCount` words into windows of `size` words every `stride` words. The last window slides back so
 * that it ends at the last word, unless that would move it by a whole stride or more (then the previous
 * window already covers the end). 40 words, 32/16 -> [0,32) [8,40). Zero words -> no window.
 */
export function makeWindows(wordCount: number, size: number, stride: number): WordWindow[] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`windowSize must be an integer >= 1, got ${size}`);
  if (!Number.isInteger(stride) || stride < 1 || stride > size) {
    throw new RangeError(`windowStride must be an integer in [1, windowSize=${size}], got ${stride}`);
  }
  const windows: WordWindow[] = [];
  for (let start = 0; start < wordCount; start += stride) {
    let first = start;
    if (first !== 0 && first + size > wordCount) {
      const overflow = first + size - wordCount;
      if (overflow >= stride) break;
      first -= overflow;
    }
    windows.push({ firstWord: first, endWord: Math.min(first + size, wordCount) });
  }
  return windows;
}
