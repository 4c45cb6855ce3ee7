import { describe, expect, it } from 'vitest';
import { REPORTED_STAGES, StageAccumulator, stageBreakdown } from '../../src/bench/stages.js';

describe('StageAccumulator', () => {
  it('sums pipeline stages and counters over calls', () => {
    const acc = new StageAccumulator();
    acc.add('encoder', 10);
    acc.add('encoder', 5);
    acc.add('heads', 2);
    acc.count('passes', 3);
    acc.count('passes', 4);
    expect(acc.pipelineMs('encoder')).toBe(15);
    expect(acc.pipelineMs('merge')).toBe(0);
    expect(acc.counter('passes')).toBe(7);
    expect(acc.counter('readerTokens')).toBe(0);
  });

  it('splits retrieval into query encoding and index search', () => {
    const acc = new StageAccumulator();
    acc.add('retrieval', 30);
    acc.searchMs = 12;
    acc.wordsMs = 1;
    const ms = acc.stageMs();
    expect(ms.retrievalSearch).toBe(12);
    expect(ms.retrievalEncode).toBe(18);
    expect(ms.words).toBe(1);
    expect(Object.keys(ms)).toEqual([...REPORTED_STAGES]);
  });

  it('never reports more search time than retrieval time', () => {
    const acc = new StageAccumulator();
    acc.add('retrieval', 5);
    acc.searchMs = 8;
    expect(acc.stageMs()).toMatchObject({ retrievalSearch: 5, retrievalEncode: 0 });
  });
});

describe('stageBreakdown', () => {
  const ms = { words: 1, windows: 2, retrievalEncode: 10, retrievalSearch: 7, readerInput: 3, encoder: 70, heads: 4, merge: 1 };

  it('gives each stage its share of wall time and the unaccounted rest', () => {
    const b = stageBreakdown(ms, 100);
    expect(b.stages.encoder).toEqual({ ms: 70, share: 0.7 });
    expect(b.stages.retrievalSearch.share).toBe(0.07);
    expect(b.unaccountedMs).toBe(2);
    expect(b.outsideEncoderShare).toBe(0.3);
    expect(b.outsideModelsShare).toBe(0.2);
    const shares = REPORTED_STAGES.reduce((s, stage) => s + b.stages[stage].share, 0);
    expect(shares + b.unaccountedMs / 100).toBeCloseTo(1, 6);
  });

  it('clamps unaccounted time at zero and rejects a zero wall time', () => {
    expect(stageBreakdown(ms, 90).unaccountedMs).toBe(0);
    expect(() => stageBreakdown(ms, 0)).toThrow(RangeError);
  });
});
