import { describe, expect, it } from 'vitest';
import { BundleError } from '../../src/errors.js';
import { parseHeads } from '../../src/reader/reader.js';

// An RE heads.json with blocks of size 2 (end_s end_t subj_s subj_t obj_s obj_t rel).
const features = Object.fromEntries(['end_s', 'end_t', 'subj_s', 'subj_t', 'obj_s', 'obj_t', 'rel'].map((name, i) => [name, [2 * i, 2]]));
const base = { hidden: 4, headDim: 2, features, endWeight: [1, 1], endBias: 0, relationWeight: [0.5, -0.5], relationBias: 0.1 };
const mlp = { hidden: 3, weight: [[1, 0], [0, 1], [1, -1]], bias: [0.1, 0.2, 0.3], out: [1, -1, 0.5] };
const parse = (json: object) => parseHeads(JSON.stringify(json), '/b/reader/heads.json', { el: false, re: true });

describe('parseHeads: relationMlp', () => {
  it('reads the MLP row-major and leaves it out when heads.json has none', () => {
    const heads = parse({ ...base, relationMlp: mlp });
    expect(heads.relationMlp?.hidden).toBe(3);
    expect(Array.from(heads.relationMlp?.weight ?? [])).toEqual([1, 0, 0, 1, 1, -1]);
    expect(Array.from(heads.relationMlp?.out ?? [])).toEqual([1, -1, 0.5]);
    expect(parse(base).relationMlp).toBeUndefined();
    // an EL-only reading of the bundle does not need it
    expect(parseHeads(JSON.stringify({ ...base, relationMlp: 'x' }), '/b/reader/heads.json', { el: false, re: false }).relationMlp).toBeUndefined();
  });

  it.each([
    ['not an object', 'relationMlp must be an object'],
    [{ ...mlp, hidden: 0 }, 'relationMlp.hidden must be an integer >= 1, got 0'],
    [{ ...mlp, weight: [[1, 0], [0, 1]] }, 'relationMlp.weight must have 3 rows'],
    [{ ...mlp, weight: [[1, 0], [0, 1], [1]] }, 'relationMlp.weight[2] must be 2 numbers'],
    [{ ...mlp, bias: [0.1, 0.2] }, 'relationMlp.bias must be 3 numbers'],
    [{ ...mlp, out: [1, -1, 'x'] }, 'relationMlp.out must be 3 numbers'],
  ])('refuses %j, naming the field', (relationMlp, message) => {
    expect(() => parse({ ...base, relationMlp })).toThrow(BundleError);
    expect(() => parse({ ...base, relationMlp })).toThrow(`heads.json: ${message}`);
  });
});

describe('parseHeads: relationContextWeight', () => {
  const withCtx = { ...base, features: { ...features, ctx: [14, 2] } };
  it('reads the weight with its "ctx" block and leaves it out when heads.json has neither', () => {
    expect(Array.from(parse({ ...withCtx, relationContextWeight: [0.25, -1] }).relationContextWeight ?? [])).toEqual([0.25, -1]);
    expect(parse(base).relationContextWeight).toBeUndefined();
  });

  it.each([
    [withCtx, 'features has a "ctx" block but no relationContextWeight'],
    [{ ...base, relationContextWeight: [0.25, -1] }, 'relationContextWeight needs a "ctx" block in features'],
    [{ ...withCtx, relationContextWeight: [0.25] }, 'relationContextWeight has 1 values, the ctx block has 2'],
    [{ ...withCtx, relationContextWeight: 'x' }, 'relationContextWeight must be an array of numbers'],
    [{ ...base, features: { ...features, ctx: [14, 3] }, relationContextWeight: [1, 2, 3] }, 'the ctx and rel blocks must have the same size'],
  ])('refuses %j, naming the field', (json, message) => {
    expect(() => parse(json)).toThrow(BundleError);
    expect(() => parse(json)).toThrow(`heads.json: ${message}`);
  });
});
