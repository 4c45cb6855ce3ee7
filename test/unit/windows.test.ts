import { describe, expect, it } from 'vitest';
import { makeWindows } from '../../src/pipeline/windows.js';

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
