import { describe, expect, it } from 'vitest';
import type { EvalDocument } from '../../src/data/schema.js';
import {
  compareLinks,
  compareMentions,
  compareSets,
  compareTriplets,
  countsByRelation,
  entityRecall,
  goldItems,
  predictedItems,
  prf,
  relationRecall,
  type SpanItem,
  type TripletItem,
} from '../../src/eval/metrics.js';
import type { Candidate, WindowInfo } from '../../src/types.js';

const span = (start: number, end: number, entity: string | null = null): SpanItem => ({ start, end, entity });
const trip = (s: SpanItem, relation: string, o: SpanItem): TripletItem => ({ subject: s, relation, object: o });
const cands = (...titles: string[]): Candidate[] => titles.map((t) => ({ id: `id:${t}`, title: t, score: 1 }));
const win = (start: number, end: number, entities?: Candidate[], relations?: Candidate[]): WindowInfo => ({
  firstWord: 0,
  endWord: 1,
  start,
  end,
  passes: 1,
  ...(entities ? { entityCandidates: entities } : {}),
  ...(relations ? { relationCandidates: relations } : {}),
});

describe('prf', () => {
  it('computes micro precision, recall and F1', () => {
    const m = prf({ tp: 3, fp: 1, fn: 3 });
    expect(m.precision).toBeCloseTo(0.75);
    expect(m.recall).toBeCloseTo(0.5);
    expect(m.f1).toBeCloseTo(0.6);
  });

  it('gives 0, never NaN, on empty sets', () => {
    expect(prf({ tp: 0, fp: 0, fn: 0 })).toEqual({ tp: 0, fp: 0, fn: 0, precision: 0, recall: 0, f1: 0 });
    expect(prf({ tp: 0, fp: 4, fn: 0 })).toMatchObject({ precision: 0, recall: 0, f1: 0 });
    expect(prf({ tp: 0, fp: 0, fn: 4 })).toMatchObject({ precision: 0, recall: 0, f1: 0 });
  });
});

describe('set semantics', () => {
  it('counts a duplicated prediction once', () => {
    const d = compareSets(['a', 'b', 'b', 'b'], ['b', 'b', 'c', 'c'], (x) => x);
    expect(d).toEqual({ matched: ['b'], falsePositives: ['c'], falseNegatives: ['a'] });
  });
});

describe('EL InKB strong matching', () => {
  const gold = [span(0, 5, 'Barack Obama'), span(10, 15, 'Paris'), span(20, 25, null), span(30, 35, 'France')];

  it('needs exact boundaries and the same entity; NME gold excluded, NME predictions ignored', () => {
    const pred = [
      span(0, 5, 'Barack Obama'), // tp
      span(10, 14, 'Paris'), // wrong boundary: fp, and gold 10-15 fn
      span(20, 25, 'Nice'), // gold is NME: fp (InKB excludes NME gold)
      span(30, 35, null), // NME prediction: ignored, gold France stays fn
      span(40, 45, null), // NME prediction elsewhere: ignored
    ];
    const d = compareLinks(gold, pred);
    expect(d.matched).toEqual([span(0, 5, 'Barack Obama')]);
    expect(d.falsePositives).toEqual([span(10, 14, 'Paris'), span(20, 25, 'Nice')]);
    expect(d.falseNegatives).toEqual([span(10, 15, 'Paris'), span(30, 35, 'France')]);
    expect(prf({ tp: 1, fp: 2, fn: 2 }).f1).toBeCloseTo(1 / 3);
  });

  it('scores overlapping predictions separately', () => {
    const d = compareLinks([span(0, 10, 'New York City')], [span(0, 10, 'New York City'), span(0, 8, 'New York'), span(4, 10, 'York')]);
    expect([d.matched.length, d.falsePositives.length, d.falseNegatives.length]).toEqual([1, 2, 0]);
  });

  it('a wrong entity on the right boundaries is both a false positive and a false negative', () => {
    const d = compareLinks([span(0, 5, 'A')], [span(0, 5, 'B')]);
    expect([d.matched.length, d.falsePositives.length, d.falseNegatives.length]).toEqual([0, 1, 1]);
  });
});

describe('mention detection', () => {
  it('uses boundaries only and includes NME gold and NME predictions', () => {
    const gold = [span(0, 5, 'A'), span(10, 15, null), span(20, 25, 'C')];
    const pred = [span(0, 5, 'Wrong'), span(10, 15, null), span(10, 15, 'X'), span(21, 25, 'C')];
    const d = compareMentions(gold, pred);
    expect([d.matched.length, d.falsePositives.length, d.falseNegatives.length]).toEqual([2, 1, 1]);
  });
});

describe('relation extraction', () => {
  const a = span(0, 5, 'Peop');
  const b = span(10, 15, 'Org');
  const c = span(20, 25, 'Loc');
  const gold = [trip(a, 'Work_For', b), trip(b, 'OrgBased_In', c), trip(b, 'OrgBased_In', c)];

  it('boundaries mode ignores entity labels; duplicates count once', () => {
    const pred = [
      trip(span(0, 5, null), 'Work_For', span(10, 15, null)), // tp (labels ignored)
      trip(span(0, 5, null), 'Work_For', span(10, 15, null)), // duplicate: once
      trip(c, 'OrgBased_In', b), // reversed direction: fp
    ];
    const d = compareTriplets(gold, pred, 'boundaries');
    expect([d.matched.length, d.falsePositives.length, d.falseNegatives.length]).toEqual([1, 1, 1]);
  });

  it('strict mode also needs both entity labels (cIE strict)', () => {
    const pred = [trip(span(0, 5, null), 'Work_For', span(10, 15, null)), trip(b, 'OrgBased_In', c)];
    const d = compareTriplets(gold, pred, 'strict');
    expect(d.matched).toEqual([trip(b, 'OrgBased_In', c)]);
    expect(d.falsePositives.length).toBe(1);
    expect(d.falseNegatives).toEqual([trip(a, 'Work_For', b)]);
  });

  it('breaks counts down per relation', () => {
    const d = compareTriplets(gold, [trip(a, 'Work_For', b), trip(a, 'Kill', c)], 'boundaries');
    expect(Object.fromEntries(countsByRelation(d))).toEqual({
      Work_For: { tp: 1, fp: 0, fn: 0 },
      Kill: { tp: 0, fp: 1, fn: 0 },
      OrgBased_In: { tp: 0, fp: 0, fn: 1 },
    });
  });
});

describe('gold and predicted items', () => {
  const doc: EvalDocument = {
    id: 'd',
    text: 'Obama met Li in Paris',
    spans: [
      { start: 0, end: 5, label: 'Barack Obama', id: 'Q76' },
      { start: 10, end: 12, label: '--NME--' },
      { start: 16, end: 21, label: 'Paris', id: 'Q90' },
    ],
    triplets: [{ subject: 0, relation: 'met', object: 1 }],
  };

  it('maps NME and missing labels to null and resolves triplet arguments', () => {
    expect(goldItems(doc, 'label').spans.map((s) => s.entity)).toEqual(['Barack Obama', null, 'Paris']);
    expect(goldItems(doc, 'id').spans.map((s) => s.entity)).toEqual(['Q76', null, 'Q90']);
    expect(goldItems(doc, 'label').triplets).toEqual([trip(span(0, 5, 'Barack Obama'), 'met', span(10, 12, null))]);
  });

  it('normalises predicted relations and rejects bad triplet indices', () => {
    const result = {
      spans: [
        { start: 0, end: 5, label: 'Barack Obama', id: 'Q76' },
        { start: 10, end: 12, label: '--NME--', id: null },
      ],
      triplets: [{ subject: 0, relation: 'Met with', relationId: 'r1', object: 1 }],
    };
    const items = predictedItems(result, 'id', (t) => (t.relationId === 'r1' ? 'met' : t.relation));
    expect(items.triplets).toEqual([trip(span(0, 5, 'Q76'), 'met', span(10, 12, null))]);
    expect(() => predictedItems({ ...result, triplets: [{ subject: 0, relation: 'x', relationId: 'x', object: 5 }] }, 'id')).toThrow(
      /triplet subject\/object must index result\.spans \(0\.\.1\), got 0\/5/,
    );
  });
});

describe('retriever recall@K', () => {
  it('counts (window, linked gold mention inside the window) pairs', () => {
    const gold = [span(0, 5, 'A'), span(10, 15, 'B'), span(10, 15, 'B'), span(30, 35, 'C'), span(12, 14, null)];
    const windows = [win(0, 20, cands('X', 'A', 'B')), win(10, 40, cands('C', 'Y', 'Z', 'B')), win(50, 60)];
    // pairs: w0/A rank1, w0/B rank2, w1/B rank3, w1/C rank0 -> 4 pairs; NME and out-of-window gold excluded
    const r = entityRecall(gold, windows, [1, 2, 3, 10], 'label');
    expect(r).toEqual({ total: 4, hits: [1, 2, 3, 4], hitsAll: 4 });
    // by id: candidate ids are "id:<title>", gold ids do not match
    expect(entityRecall(gold, windows, [1], 'id')).toEqual({ total: 4, hits: [0], hitsAll: 0 });
  });

  it('gives zero pairs without windows or candidates', () => {
    expect(entityRecall([span(0, 5, 'A')], [], [1], 'label')).toEqual({ total: 0, hits: [0], hitsAll: 0 });
    expect(entityRecall([span(0, 5, 'A')], [win(0, 10)], [1], 'label')).toEqual({ total: 0, hits: [0], hitsAll: 0 });
  });

  it('relation recall needs both arguments inside the window and normalises candidate titles', () => {
    const g = [trip(span(0, 2), 'Work_For', span(5, 8)), trip(span(0, 2), 'Kill', span(30, 32))];
    const r = relationRecall(g, [win(0, 20, undefined, cands('Live in', 'Work for'))], [1, 2], (t) => (t === 'Work for' ? 'Work_For' : t));
    expect(r).toEqual({ total: 1, hits: [0, 1], hitsAll: 1 });
  });
});
