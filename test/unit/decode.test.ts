import { describe, expect, it } from 'vitest';
import { chooseEntity, decodePass, softmax } from '../../src/reader/decode.js';
import { FeatureView, erf, gelu, geluExact, pairContext, type HeadParameters } from '../../src/reader/heads.js';
import { buildReaderPasses, type ReaderVocabulary } from '../../src/reader/input.js';

const vocabulary: ReaderVocabulary = { clsId: 1, sepId: 2, entityMarkerIds: [100, 101, 102], relationMarkerIds: [200, 201] };

// Features per position: end_s, end_t, el_s(2), el_t(2), subj_s, subj_t, obj_s, obj_t, rel (1 each).
const blocks = new Map<string, readonly [number, number]>([
  ['end_s', [0, 1]], ['end_t', [1, 1]], ['el_s', [2, 2]], ['el_t', [4, 2]],
  ['subj_s', [6, 1]], ['subj_t', [7, 1]], ['obj_s', [8, 1]], ['obj_t', [9, 1]], ['rel', [10, 1]],
]);
const F = 11;
// End head: P(end | s) = sigmoid(1 · gelu(end_s[s] + end_t[t]) + 0).
const heads: HeadParameters = { featureSize: F, blocks, endWeight: Float32Array.of(1), endBias: 0, relationWeight: Float32Array.of(1), relationBias: -1 };

function outputs(length: number, set: (position: number, row: Float32Array, start: { value: number }) => void): { startLogit: Float32Array; features: Float32Array } {
  const startLogit = new Float32Array(length).fill(-10);
  const features = new Float32Array(length * F);
  for (let p = 0; p < length; p++) {
    const start = { value: -10 };
    set(p, features.subarray(p * F, (p + 1) * F), start);
    startLogit[p] = start.value;
  }
  return { startLogit, features };
}

describe('math helpers', () => {
  it('erf and gelu match reference values', () => {
    expect(erf(0.5)).toBeCloseTo(0.5204998778, 6);
    expect(erf(-1.5)).toBeCloseTo(-0.9661051465, 6);
    expect(gelu(1)).toBeCloseTo(0.8413447461, 6);
    expect(gelu(-2)).toBeCloseTo(-0.0455002639, 6);
    expect(softmax([1, 2, 3]).reduce((a, b) => a + b)).toBeCloseTo(1, 12);
    let worst = 0;
    for (let x = -12; x <= 12; x += 0.000731) worst = Math.max(worst, Math.abs(gelu(x) - geluExact(x)));
    expect(worst).toBeLessThan(1e-7);
  });
});

describe('decodePass', () => {
  // words: w0 = [10], w1 = [11, 12], w2 = [13]; positions 1..4; markers ST_0 at 6, ST_1 at 7 (cand 0 title at 8), ST_2 at 9.
  const el = buildReaderPasses({ task: 'el', wordIds: [[10], [11, 12], [13]], entityCandidates: [[50], [51]], relationCandidates: [] }, vocabulary, { maxLength: 64 }).passes[0]!;

  it('finds a mention from a start and its best end, only at word edges, and links it by argmax', () => {
    const out = outputs(el.inputIds.length, (p, row, start) => {
      if (p === 2) start.value = 3; // w1 starts at position 2
      if (p === 3) start.value = 5; // position 3 is inside w1: never a start
      row[0] = p === 2 ? 1 : 0; // end_s
      row[1] = p === 3 ? 2 : p === 4 ? 0.5 : -5; // end_t: best end at 3 (end of w1), also > 0.5 at 4
      // el vectors: mention (2,3) -> gelu(el_s[2] + el_t[3]) = gelu([1,0] + [1,0]); candidate 1 (ST_2 at 9) aligns best.
      if (p === 2) row.set([1, 0], 2);
      if (p === 3) row.set([1, 0], 4);
      if (p === 9) row.set([3, 0], 2);
      if (p === 7) row.set([0, 3], 2);
    });
    const prediction = decodePass(el, out, heads, { endsPerStart: 'one', relationThreshold: 0.5, linkEntities: true, extractRelations: false });
    expect(prediction.mentions).toHaveLength(1);
    const m = prediction.mentions[0]!;
    expect([m.firstWord, m.lastWord, m.startPosition, m.endPosition]).toEqual([1, 1, 2, 3]);
    expect(m.candidate).toBe(1);
    // E·M: NME 0, cand0 gelu(3)*0 + ... -> hand-computed softmax
    const M = [gelu(2), gelu(0)];
    const logits = [0, gelu(0) * M[0]! + gelu(3) * M[1]!, gelu(3) * M[0]! + gelu(0) * M[1]!];
    expect(m.linkScore).toBeCloseTo(softmax(logits)[2]!, 6);
    expect(m.detectionScore).toBeCloseTo((1 / (1 + Math.exp(-3))) * (1 / (1 + Math.exp(-gelu(3)))), 6);
  });

  it('a link bonus (name prior) is added to every slot, NME included, before the argmax', () => {
    const mention = (p: number, row: Float32Array, start: { value: number }, linkable: boolean): void => {
      if (p === 2) start.value = 3;
      row[0] = p === 2 ? 1 : 0;
      row[1] = p === 3 ? 2 : -5;
      if (!linkable) return;
      if (p === 2) row.set([1, 0], 2);
      if (p === 3) row.set([1, 0], 4);
      if (p === 9) row.set([3, 0], 2);
      if (p === 7) row.set([0, 3], 2);
    };
    const options = { endsPerStart: 'one', relationThreshold: 0.5, linkEntities: true, extractRelations: false } as const;
    const linked = outputs(el.inputIds.length, (p, row, start) => mention(p, row, start, true));
    const calls: number[] = [];
    const bonus = (_m: unknown, candidate: number): number => {
      calls.push(candidate);
      return candidate === 0 ? 10 : 0;
    };
    const plain = decodePass(el, linked, heads, options).mentions[0]!;
    const prior = decodePass(el, linked, heads, { ...options, linkBonus: bonus }).mentions[0]!;
    expect(plain.candidate).toBe(1);
    expect(prior.candidate).toBe(0);
    const M = [gelu(2), gelu(0)];
    const logits = [0, gelu(0) * M[0]! + gelu(3) * M[1]! + 10, gelu(3) * M[0]! + gelu(0) * M[1]!];
    expect(prior.linkScore).toBeCloseTo(softmax(logits)[1]!, 6);
    expect(calls.sort()).toEqual([-1, 0, 1]); // every slot: NME (-1) and both candidates
    // All logits equal: the reader alone says NME (first slot); a bonus against NME links the mention,
    // one for NME keeps it NME.
    const unlinkable = outputs(el.inputIds.length, (p, row, start) => mention(p, row, start, false));
    expect(decodePass(el, unlinkable, heads, options).mentions[0]!.candidate).toBe(-1);
    expect(decodePass(el, unlinkable, heads, { ...options, linkBonus: (_m, c) => (c < 0 ? -2 : c === 1 ? 0 : -3) }).mentions[0]!.candidate).toBe(1);
    expect(decodePass(el, unlinkable, heads, { ...options, linkBonus: (_m, c) => (c < 0 ? 0 : -1) }).mentions[0]!.candidate).toBe(-1);
  });

  it('a link below linkThreshold gives way to NME, scored by the NME slot', () => {
    const out = outputs(el.inputIds.length, (p, row, start) => {
      if (p === 2) start.value = 3;
      row[0] = p === 2 ? 1 : 0;
      row[1] = p === 3 ? 2 : -5;
      if (p === 2) row.set([1, 0], 2);
      if (p === 3) row.set([1, 0], 4);
      if (p === 9) row.set([3, 0], 2);
      if (p === 7) row.set([0, 3], 2);
    });
    const M = [gelu(2), gelu(0)];
    const probabilities = softmax([0, gelu(0) * M[0]! + gelu(3) * M[1]!, gelu(3) * M[0]! + gelu(0) * M[1]!]);
    const options = { endsPerStart: 'one', relationThreshold: 0.5, linkEntities: true, extractRelations: false } as const;
    const at = (linkThreshold: number) => decodePass(el, out, heads, { ...options, linkThreshold }).mentions[0]!;
    expect(probabilities[2]).toBeGreaterThan(0.5);
    expect(probabilities[2]).toBeLessThan(0.999);
    // At or below the link's probability the link stands, as without a threshold; above it the mention is NME.
    expect([at(0).candidate, at(0).linkScore]).toEqual([1, decodePass(el, out, heads, options).mentions[0]!.linkScore]);
    expect(at(at(0).linkScore).candidate).toBe(1); // a threshold equal to the link's probability keeps it
    const nme = at(0.999);
    expect(nme.candidate).toBe(-1);
    expect(nme.linkScore).toBeCloseTo(probabilities[0]!, 6);
    expect(nme.belowThreshold).toEqual({ candidate: 1, score: at(0).linkScore });
    expect(at(0).belowThreshold).toBeUndefined();
    expect([nme.firstWord, nme.lastWord]).toEqual([1, 1]); // the mention is kept, only its link is dropped
  });

  it('chooseEntity: NME as argmax stays NME at any threshold; a pass without an NME slot scores 0', () => {
    const slots = [{ position: 6, candidate: -1 }, { position: 7, candidate: 0 }, { position: 9, candidate: 1 }];
    expect(chooseEntity(slots, [0.5, 0.3, 0.2], 0.9)).toEqual({ candidate: -1, linkScore: 0.5 });
    expect(chooseEntity(slots, [0.1, 0.3, 0.6], 0.6)).toEqual({ candidate: 1, linkScore: 0.6 });
    expect(chooseEntity(slots, [0.1, 0.3, 0.6], 0.61)).toEqual({ candidate: -1, linkScore: 0.1, belowThreshold: { candidate: 1, score: 0.6 } });
    expect(chooseEntity(slots.slice(1), [0.4, 0.6], 0.7)).toEqual({ candidate: -1, linkScore: 0, belowThreshold: { candidate: 1, score: 0.6 } });
  });

  it('"all" keeps every end above 0.5; given mentions skip detection', () => {
    const out = outputs(el.inputIds.length, (p, row, start) => {
      if (p === 1) start.value = 2;
      row[0] = 0;
      row[1] = p === 1 || p === 4 ? 1 : -1;
    });
    const all = decodePass(el, out, heads, { endsPerStart: 'all', relationThreshold: 0.5, linkEntities: false, extractRelations: false });
    expect(all.mentions.map((m) => [m.firstWord, m.lastWord])).toEqual([[0, 0], [0, 2]]);
    const given = decodePass(el, out, heads, { endsPerStart: 'one', relationThreshold: 0.5, linkEntities: false, extractRelations: false, givenMentions: [[1, 2]] });
    expect(given.mentions.map((m) => [m.startPosition, m.endPosition, m.detectionScore])).toEqual([[2, 4, 1]]);
  });

  it('scores relations for ordered pairs of distinct mentions with the trilinear head', () => {
    const re = buildReaderPasses({ task: 're', wordIds: [[10], [11]], entityCandidates: [], relationCandidates: [[60], [61]] }, vocabulary, { maxLength: 64 }).passes[0]!;
    // positions: 1 w0, 2 w1, 3 SEP, 4 RT_0, 5 title, 6 RT_1, 7 title, 8 SEP
    const out = outputs(re.inputIds.length, (p, row, start) => {
      if (p === 1 || p === 2) start.value = 4;
      row[0] = 0;
      row[1] = p === 1 || p === 2 ? 4 : -4; // single-word mentions
      row[6] = p === 1 ? 3 : -3; // subj strong for w0
      row[8] = p === 2 ? 3 : -3; // obj strong for w1
      row[10] = p === 4 ? 2 : p === 6 ? -2 : 0; // RT_0 positive, RT_1 negative
    });
    const prediction = decodePass(re, out, heads, { endsPerStart: 'one', relationThreshold: 0.5, linkEntities: false, extractRelations: true });
    expect(prediction.mentions.map((m) => m.firstWord)).toEqual([0, 1]);
    expect(prediction.triplets).toHaveLength(1);
    const t = prediction.triplets[0]!;
    expect([t.subject, t.object, t.relation]).toEqual([0, 1, 0]);
    const expected = 1 / (1 + Math.exp(-(gelu(3) * gelu(3) * gelu(2) * 1 - 1)));
    expect(t.score).toBeCloseTo(expected, 6);

    // With a relation MLP the logit gains out · gelu(weight (S ⊙ O ⊙ R) + bias): hidden 2, headDim 1.
    const relationMlp = { hidden: 2, weight: Float32Array.of(1, -1), bias: Float32Array.of(0.5, 0), out: Float32Array.of(2, 1) };
    const withMlp = decodePass(re, out, { ...heads, relationMlp }, { endsPerStart: 'one', relationThreshold: 0.5, linkEntities: false, extractRelations: true });
    const product = gelu(3) * gelu(3) * gelu(2);
    const logit = product - 1 + 2 * gelu(product + 0.5) + gelu(-product);
    expect(withMlp.triplets.map((x) => [x.subject, x.object, x.relation])).toEqual([[0, 1, 0]]);
    expect(withMlp.triplets[0]!.score).toBeCloseTo(1 / (1 + Math.exp(-logit)), 6);
    // an MLP that speaks against every relation removes the triplet
    const against = { ...relationMlp, out: Float32Array.of(-5, -5) };
    expect(decodePass(re, out, { ...heads, relationMlp: against }, { endsPerStart: 'one', relationThreshold: 0.5, linkEntities: false, extractRelations: true }).triplets).toEqual([]);
  });

  it('the pair-context term adds v · (C ⊙ R), C the max-pooled ctx block between the two mentions', () => {
    const re = buildReaderPasses({ task: 're', wordIds: [[10], [11], [12]], entityCandidates: [], relationCandidates: [[60], [61]] }, vocabulary, { maxLength: 64 }).passes[0]!;
    // positions: 1 w0, 2 w1, 3 w2, 4 SEP, 5 RT_0, 6 title, 7 RT_1, 8 title, 9 SEP; the ctx block sits at offset 11
    const size = F + 1;
    const withContext = (v: number): HeadParameters => ({ ...heads, featureSize: size, blocks: new Map([...blocks, ['ctx', [F, 1]]]), relationContextWeight: Float32Array.of(v) });
    const features = new Float32Array(re.inputIds.length * size);
    const startLogit = new Float32Array(re.inputIds.length).fill(-10);
    for (let p = 0; p < re.inputIds.length; p++) {
      const row = features.subarray(p * size, (p + 1) * size);
      if (p === 1 || p === 3) startLogit[p] = 4;
      row[1] = p === 1 || p === 3 ? 4 : -4; // single-word mentions w0 and w2
      row[6] = p === 1 ? 3 : -3; // subj strong for w0
      row[8] = p === 3 ? 3 : -3; // obj strong for w2
      row[10] = p === 5 ? 2 : p === 7 ? -2 : 0; // RT_0 positive, RT_1 negative
      row[F] = p === 2 ? 1.5 : 9; // ctx: only position 2 (w1) lies between the mentions
    }
    const out = { startLogit, features };
    const options = { endsPerStart: 'one', relationThreshold: 0.5, linkEntities: false, extractRelations: true } as const;
    const plain = decodePass(re, out, { ...heads, featureSize: size }, options);
    const found = decodePass(re, out, withContext(0.2), options);
    expect(found.triplets.map((x) => [x.subject, x.object, x.relation])).toEqual([[0, 1, 0]]);
    const trilinear = gelu(3) * gelu(3) * gelu(2) - 1;
    expect(plain.triplets[0]!.score).toBeCloseTo(1 / (1 + Math.exp(-trilinear)), 6);
    expect(found.triplets[0]!.score).toBeCloseTo(1 / (1 + Math.exp(-(trilinear + 0.2 * gelu(1.5) * gelu(2)))), 6);
    // a context that speaks against the relation removes the triplet
    expect(decodePass(re, out, withContext(-10), options).triplets).toEqual([]);
  });

  it('pairContext pools per dimension over the positions strictly between, and is undefined when none are', () => {
    const blocksWithContext = new Map<string, readonly [number, number]>([['ctx', [0, 2]]]);
    const view = new FeatureView({ startLogit: new Float32Array(6), features: Float32Array.of(9, 9, 0, 0, 1, -2, 0.5, 3, 0, 0, 9, 9) }, { ...heads, featureSize: 2, blocks: blocksWithContext });
    const at = (start: number, end: number) => ({ startPosition: start, endPosition: end });
    const pooled = Array.from(pairContext(view, at(1, 1), at(4, 4)) ?? []);
    expect(pooled).toHaveLength(2);
    expect(pooled[0]).toBeCloseTo(gelu(1), 6);
    expect(pooled[1]).toBeCloseTo(gelu(3), 6);
    expect(Array.from(pairContext(view, at(4, 4), at(1, 1)) ?? [])).toEqual(pooled); // both directions
    expect(pairContext(view, at(3, 3), at(4, 5))).toBeUndefined(); // adjacent
    expect(pairContext(view, at(1, 3), at(2, 4))).toBeUndefined(); // overlapping
  });

  it('zero mentions gives an empty prediction', () => {
    const out = outputs(el.inputIds.length, () => undefined);
    expect(decodePass(el, out, heads, { endsPerStart: 'one', relationThreshold: 0.5, linkEntities: true, extractRelations: false })).toEqual({ mentions: [], triplets: [] });
  });
});
