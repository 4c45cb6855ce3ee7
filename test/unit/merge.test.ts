import { describe, expect, it } from 'vitest';
import { capRelationsPerPair, mergeWindowPredictions } from '../../src/pipeline/merge.js';
import { splitWords } from '../../src/text/words.js';

const text = 'Obama met Merkel in Berlin 😀 today';
const words = splitWords(text);
const obama = { id: 'Q76', title: 'Barack Obama', score: 1 };
const merkel = { id: 'Q567', title: 'Angela Merkel', score: 1 };
const bornIn = { id: 'P19', title: 'met', score: Number.NaN };

describe('mergeWindowPredictions', () => {
  it('keeps one span per boundary, preferring a link over NME, then the higher score; drops NME by default', () => {
    const merged = mergeWindowPredictions(
      text,
      words,
      [
        { firstWord: 2, lastWord: 2, entity: null, score: 0.9 },
        { firstWord: 0, lastWord: 0, entity: obama, score: 0.6 },
        { firstWord: 2, lastWord: 2, entity: merkel, score: 0.4 },
        { firstWord: 0, lastWord: 0, entity: obama, score: 0.8 },
        { firstWord: 4, lastWord: 4, entity: null, score: 0.9 },
      ],
      [],
      false,
    );
    expect(merged.spans).toEqual([
      { start: 0, end: 5, text: 'Obama', label: 'Barack Obama', id: 'Q76', score: 0.8 },
      { start: 10, end: 16, text: 'Merkel', label: 'Angela Merkel', id: 'Q567', score: 0.4 },
    ]);
  });

  it('keeps NME spans with keepNme, offsets after an emoji are UTF-16, and triplets index the sorted spans', () => {
    const merged = mergeWindowPredictions(
      text,
      words,
      [
        { firstWord: 6, lastWord: 6, entity: null, score: 0.7 },
        { firstWord: 0, lastWord: 0, entity: null, score: 0.9 },
      ],
      [
        { subject: [6, 6], object: [0, 0], relation: bornIn, score: 0.6 },
        { subject: [6, 6], object: [0, 0], relation: bornIn, score: 0.9 },
      ],
      true,
    );
    expect(merged.spans.map((s) => [s.text, s.start, s.end, s.label])).toEqual([['Obama', 0, 5, '--NME--'], ['today', 30, 35, '--NME--']]);
    expect(text.slice(30, 35)).toBe('today');
    expect(merged.triplets).toEqual([{ subject: 1, relation: 'met', relationId: 'P19', object: 0, score: 0.9 }]);
  });

  it('an NME span made so by the link threshold carries the link it lost (the nearest to a link of its windows); a window that links the span wins', () => {
    const lost = { entity: merkel, score: 0.55 };
    const merged = mergeWindowPredictions(
      text,
      words,
      [
        { firstWord: 2, lastWord: 2, entity: null, score: 0.9 },
        { firstWord: 2, lastWord: 2, entity: null, score: 0.2, belowThreshold: lost },
        { firstWord: 2, lastWord: 2, entity: null, score: 0.3, belowThreshold: { entity: merkel, score: 0.5 } },
        { firstWord: 0, lastWord: 0, entity: null, score: 0.3, belowThreshold: { entity: obama, score: 0.6 } },
        { firstWord: 0, lastWord: 0, entity: obama, score: 0.85 },
      ],
      [],
      true,
    );
    expect(merged.spans).toEqual([
      { start: 0, end: 5, text: 'Obama', label: 'Barack Obama', id: 'Q76', score: 0.85 },
      { start: 10, end: 16, text: 'Merkel', label: '--NME--', id: null, score: 0.2, belowThreshold: { id: 'Q567', label: 'Angela Merkel', score: 0.55 } },
    ]);
  });

  it('keeps NME spans that a triplet needs even without keepNme, and handles empty input', () => {
    const merged = mergeWindowPredictions(text, words, [{ firstWord: 0, lastWord: 0, entity: null, score: 0.5 }, { firstWord: 2, lastWord: 2, entity: merkel, score: 0.5 }], [{ subject: [0, 0], object: [2, 2], relation: bornIn, score: 0.7 }], false);
    expect(merged.spans).toHaveLength(2);
    expect(merged.triplets[0]).toMatchObject({ subject: 0, object: 1 });
    expect(mergeWindowPredictions(text, words, [], [], false)).toEqual({ spans: [], triplets: [] });
  });

  it('relationsPerPair keeps the most probable relations of each ordered pair, after deduplication', () => {
    const livesIn = { id: 'P551', title: 'residence', score: Number.NaN };
    const spans = [0, 2, 4].map((w) => ({ firstWord: w, lastWord: w, entity: null, score: 0.9 }));
    const triplets = [
      { subject: [0, 0] as const, object: [2, 2] as const, relation: bornIn, score: 0.6 },
      { subject: [0, 0] as const, object: [2, 2] as const, relation: livesIn, score: 0.7 },
      { subject: [0, 0] as const, object: [2, 2] as const, relation: bornIn, score: 0.8 }, // same triplet, another window
      { subject: [2, 2] as const, object: [0, 0] as const, relation: livesIn, score: 0.5 }, // the reverse pair is its own
      { subject: [0, 0] as const, object: [4, 4] as const, relation: livesIn, score: 0.4 },
    ];
    const all = mergeWindowPredictions(text, words, spans, triplets, true);
    expect(all.triplets).toHaveLength(4);
    const one = mergeWindowPredictions(text, words, spans, triplets, true, 1);
    expect(one.triplets.map((t) => [t.subject, t.relationId, t.object, t.score])).toEqual([[0, 'P19', 1, 0.8], [0, 'P551', 2, 0.4], [1, 'P551', 0, 0.5]]);
    expect(mergeWindowPredictions(text, words, spans, triplets, true, 2)).toEqual(all);
  });
});

describe('capRelationsPerPair', () => {
  it('keeps input order, breaks score ties by relation id, and 0 keeps everything', () => {
    const r = (id: string) => ({ id, title: id, score: Number.NaN });
    const ts = [
      { subject: [0, 0] as const, object: [1, 1] as const, relation: r('b'), score: 0.5 },
      { subject: [0, 0] as const, object: [1, 1] as const, relation: r('a'), score: 0.5 },
      { subject: [0, 0] as const, object: [1, 1] as const, relation: r('c'), score: 0.9 },
    ];
    expect(capRelationsPerPair(ts, 2).map((t) => t.relation.id)).toEqual(['a', 'c']);
    expect(capRelationsPerPair(ts, 0)).toEqual(ts);
    expect(capRelationsPerPair([], 1)).toEqual([]);
  });
});
