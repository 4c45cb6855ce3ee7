import { describe, expect, it } from 'vitest';
import { buildReaderPasses, windowTextLength, type ReaderVocabulary } from '../../src/reader/input.js';

// CLS=1, SEP=2, entity markers 100.., relation markers 200..
const vocabulary: ReaderVocabulary = {
  clsId: 1,
  sepId: 2,
  entityMarkerIds: [100, 101, 102, 103],
  relationMarkerIds: [200, 201, 202],
};
const words = [[10], [11, 12], [13]];

describe('buildReaderPasses', () => {
  it('builds the el layout: [CLS] words [SEP] <ST_0> <ST_1> title… [SEP]', () => {
    const { passes, dropped } = buildReaderPasses({ task: 'el', wordIds: words, entityCandidates: [[50, 51], [52]], relationCandidates: [] }, vocabulary, { maxLength: 100 });
    expect(dropped).toBe(0);
    expect(passes).toHaveLength(1);
    const pass = passes[0]!;
    expect(pass.inputIds).toEqual([1, 10, 11, 12, 13, 2, 100, 101, 50, 51, 102, 52, 2]);
    expect(pass.subwordWord).toEqual([0, 1, 1, 2]);
    expect(pass.isWordStart).toEqual([true, true, false, true]);
    expect(pass.isWordEnd).toEqual([true, false, true, true]);
    expect(pass.entitySlots).toEqual([{ position: 6, candidate: -1 }, { position: 7, candidate: 0 }, { position: 10, candidate: 1 }]);
    expect(pass.relationSlots).toEqual([]);
  });

  it('builds the re layout with relation markers and no NME slot', () => {
    const { passes } = buildReaderPasses({ task: 're', wordIds: words, entityCandidates: [], relationCandidates: [[60], [61, 62]] }, vocabulary, { maxLength: 100 });
    expect(passes[0]!.inputIds).toEqual([1, 10, 11, 12, 13, 2, 200, 60, 201, 61, 62, 2]);
    expect(passes[0]!.relationSlots).toEqual([{ position: 6, candidate: 0 }, { position: 8, candidate: 1 }]);
  });

  it('builds the cie layout: entities, [SEP], relations', () => {
    const { passes } = buildReaderPasses({ task: 'cie', wordIds: [[10]], entityCandidates: [[50]], relationCandidates: [[60]] }, vocabulary, { maxLength: 100 });
    expect(passes[0]!.inputIds).toEqual([1, 10, 2, 100, 101, 50, 2, 200, 60, 2]);
    expect(passes[0]!.entitySlots.map((s) => s.position)).toEqual([3, 4]);
    expect(passes[0]!.relationSlots).toEqual([{ position: 7, candidate: 0 }]);
  });

  it('patches candidates that do not fit, repeating the text and restarting markers with NME first', () => {
    // text part = 6 tokens, NME 1, closing SEP 1 -> 8 fixed; each candidate costs 3; maxLength 14 -> 2 per pass.
    const candidates = [[50, 51], [52, 53], [54, 55], [56, 57], [58, 59]];
    const { passes, dropped } = buildReaderPasses({ task: 'el', wordIds: words, entityCandidates: candidates, relationCandidates: [] }, vocabulary, { maxLength: 14 });
    expect(dropped).toBe(0);
    expect(passes).toHaveLength(3);
    expect(passes.map((p) => p.entitySlots.map((s) => s.candidate))).toEqual([[-1, 0, 1], [-1, 2, 3], [-1, 4]]);
    expect(passes[1]!.inputIds).toEqual([1, 10, 11, 12, 13, 2, 100, 101, 54, 55, 102, 56, 57, 2]);
    for (const p of passes) expect(p.inputIds.length).toBeLessThanOrEqual(14);
  });

  it('patches when the marker limit is reached and drops candidates that cannot fit at all', () => {
    const many = Array.from({ length: 7 }, (_, i) => [50 + i]);
    const { passes } = buildReaderPasses({ task: 'el', wordIds: words, entityCandidates: many, relationCandidates: [] }, vocabulary, { maxLength: 1000 });
    expect(passes.map((p) => p.entitySlots.length - 1)).toEqual([3, 3, 1]);
    const tooLong = buildReaderPasses({ task: 'el', wordIds: words, entityCandidates: [[1, 2, 3, 4, 5, 6, 7, 8], [9]], relationCandidates: [] }, vocabulary, { maxLength: 12 });
    expect(tooLong.dropped).toBe(1);
    expect(tooLong.passes[0]!.entitySlots.map((s) => s.candidate)).toEqual([-1, 1]);
  });

  it('zero candidates still gives one pass (mentions can be found, all NME)', () => {
    const { passes } = buildReaderPasses({ task: 'el', wordIds: words, entityCandidates: [], relationCandidates: [] }, vocabulary, { maxLength: 50 });
    expect(passes).toHaveLength(1);
    expect(passes[0]!.entitySlots).toEqual([{ position: 6, candidate: -1 }]);
    expect(windowTextLength(words)).toBe(6);
  });
});
