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

/** How a document is cut into windows: fixed word windows, or sentences (long sentences windowed by words). */
export type WindowStrategy = 'words' | 'sentences';

const SENTENCE_END = new Set(['.', '!', '?', '…', '。', '！', '？']);
/** Words after which a period does not end a sentence ("Mr. Smith", "J. Smith", "Acme Corp. said"). */
const ABBREVIATIONS = new Set([
  'mr', 'mrs', 'ms', 'dr', 'prof', 'st', 'jr', 'sr', 'gen', 'col', 'lt', 'sgt', 'capt', 'gov', 'sen', 'rep', 'rev',
  'inc', 'co', 'corp', 'ltd', 'vs', 'no', 'mt', 'ft', 'jan', 'feb', 'mar', 'apr', 'jun', 'jul', 'aug', 'sep', 'sept',
  'oct', 'nov', 'dec',
]);

/**
 * Sentence boundaries over words: a sentence ends at `.`, `!`, `?` (and CJK full stops) when the next word does
 * not start in lower case; a period after a known abbreviation or a single capital letter (an initial) does not
 * end one. Returns [firstWord, endWord) ranges covering every word.
 */
export function splitSentences(words: readonly { readonly text: string }[]): WordWindow[] {
  const sentences: WordWindow[] = [];
  let first = 0;
  for (let i = 0; i < words.length; i++) {
    const word = (words[i] as { text: string }).text;
    if (!SENTENCE_END.has(word) || i === words.length - 1) continue;
    const next = (words[i + 1] as { text: string }).text;
    if (/^\p{Ll}/u.test(next) || SENTENCE_END.has(next)) continue; // "..." ends where the run of marks ends
    if (word === '.' && i > 0) {
      const previous = (words[i - 1] as { text: string }).text;
      if (ABBREVIATIONS.has(previous.toLowerCase()) || /^\p{Lu}$/u.test(previous)) continue;
    }
    sentences.push({ firstWord: first, endWord: i + 1 });
    first = i + 1;
  }
  if (first < words.length) sentences.push({ firstWord: first, endWord: words.length });
  return sentences;
}

/** Windows by strategy: sentences longer than `size` words are windowed like documents. */
export function documentWindows(words: readonly { readonly text: string }[], strategy: WindowStrategy, size: number, stride: number): WordWindow[] {
  if (strategy === 'words') return makeWindows(words.length, size, stride);
  const windows: WordWindow[] = [];
  for (const sentence of splitSentences(words)) {
    for (const w of makeWindows(sentence.endWord - sentence.firstWord, size, stride)) {
      windows.push({ firstWord: sentence.firstWord + w.firstWord, endWord: sentence.firstWord + w.endWord });
    }
  }
  return windows;
}
