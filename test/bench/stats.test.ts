import { describe, expect, it } from 'vitest';
import { percentile, perSecond, round, summarizeLatencies } from '../../src/bench/stats.js';

describe('percentile', () => {
  it('interpolates linearly between closest ranks (NumPy default)', () => {
    const values = [15, 20, 35, 40, 50];
    expect(percentile(values, 0)).toBe(15);
    expect(percentile(values, 50)).toBe(35);
    expect(percentile(values, 100)).toBe(50);
    expect(percentile(values, 40)).toBeCloseTo(29, 10); // rank 1.6 -> 20 + 0.6 * 15
    expect(percentile([1, 2, 3, 4], 95)).toBeCloseTo(3.85, 10);
  });

  it('does not depend on input order and does not mutate it', () => {
    const values = [5, 1, 4, 2, 3];
    expect(percentile(values, 50)).toBe(3);
    expect(values).toEqual([5, 1, 4, 2, 3]);
  });

  it('handles a single value and rejects bad input', () => {
    expect(percentile([7], 95)).toBe(7);
    expect(() => percentile([], 50)).toThrow(RangeError);
    expect(() => percentile([1], 101)).toThrow(/\[0, 100\]/);
    expect(() => percentile([1], Number.NaN)).toThrow(RangeError);
  });
});

describe('summarizeLatencies', () => {
  it('gives count, mean, percentiles, min and max', () => {
    const s = summarizeLatencies([10, 20, 30, 40, 100]);
    expect(s).toEqual({ count: 5, meanMs: 40, p50Ms: 30, p95Ms: 88, p99Ms: 97.6, minMs: 10, maxMs: 100 });
  });

  it('is null for no samples', () => {
    expect(summarizeLatencies([])).toBeNull();
  });
});

describe('rates and rounding', () => {
  it('computes per-second rates and guards zero time', () => {
    expect(perSecond(50, 2000)).toBe(25);
    expect(perSecond(5, 0)).toBe(0);
    expect(round(1.23456)).toBe(1.235);
    expect(round(1.23456, 1)).toBe(1.2);
  });
});
