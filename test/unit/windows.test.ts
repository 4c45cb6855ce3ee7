import { describe, expect, it } from 'vitest';
import { documentWindows, makeWindows, splitSentences } from '../../src/pipeline/windows.js';
import { splitWords } from '../../src/text/words.js';

const ranges = (n: number, size: number, stride: number): [number, number][] => makeWindows(n, size, stride).map((w) => [w.firstWord, w.endWord]);

describe('makeWindows', () => {
  it('slides the last window back to the document end (reference rule)', () => {
    expect(ranges(40, 32, 16)).toEqual([[0, 32], [8, 40]]);
    expect(ranges(100, 32, 16)).toEqual([[0, 32], [16, 48], [32, 64], [48, 80], [64, 96], [68, 100]]);
    expect(ranges(33, 32, 16)).toEqual([[0, 32], [1, 33]]);
    expect(ranges(48, 32, 16)).toEqual([[0, 32], [16, 48]]);
  });

  it('gives one window for short documents and none for zero words', () => {
    expect(ranges(5, 32, 16)).toEqual([[0, 5]]);
    expect(ranges(32, 32, 16)).toEqual([[0, 32]]);
    expect(ranges(0, 32, 16)).toEqual([]);
  });

  it('covers every word of long documents', () => {
    for (const n of [1, 17, 63, 64, 65, 1000, 1001]) {
      const covered = new Set<number>();
      for (const [a, b] of ranges(n, 64, 32)) for (let i = a; i < b; i++) covered.add(i);
      expect(covered.size).toBe(n);
    }
  });

  it('non-overlapping windows when stride equals size', () => {
    expect(ranges(70, 32, 32)).toEqual([[0, 32], [32, 64], [38, 70]]);
  });

  it('rejects invalid sizes and strides naming the parameter', () => {
    expect(() => makeWindows(10, 0, 1)).toThrow(/windowSize must be an integer >= 1/);
    expect(() => makeWindows(10, 8, 9)).toThrow(/windowStride must be an integer in \[1, windowSize=8\]/);
    expect(() => makeWindows(10, 8, 0)).toThrow(RangeError);
  });
});

describe('sentence windows', () => {
  const words = (s: string): { text: string }[] => splitWords(s);

  it('splits at sentence ends but not after abbreviations, initials or before lower case', () => {
    const text = 'Mr. Smith met J. Doe in the U.S. on Monday. They talked! Then e.g. lunch... ok? Yes. Rome';
    const w = words(text);
    const sentences = splitSentences(w).map((s) => w.slice(s.firstWord, s.endWord).map((x) => x.text).join(' '));
    expect(sentences).toEqual(['Mr . Smith met J . Doe in the U.S. on Monday .', 'They talked !', 'Then e.g. lunch . . . ok ?', 'Yes .', 'Rome']);
  });

  it('gives one window per sentence and windows long sentences by words, covering every word once or more', () => {
    const text = `${'word '.repeat(40)}end. Short one. Next${' x'.repeat(4)}`;
    const w = words(text);
    const windows = documentWindows(w, 'sentences', 32, 16).map((x) => [x.firstWord, x.endWord]);
    expect(windows).toEqual([[0, 32], [10, 42], [42, 45], [45, 50]]);
    expect(documentWindows(w, 'words', 32, 16)).toEqual(makeWindows(w.length, 32, 16));
    expect(documentWindows([], 'sentences', 32, 16)).toEqual([]);
  });
});
