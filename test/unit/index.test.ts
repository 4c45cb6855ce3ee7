import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IndexError } from '../../src/errors.js';
import { HnswSearch } from '../../src/index/ann.js';
import { float16ToFloat32, float32ToFloat16 } from '../../src/index/float16.js';
import { FlatSearch, PassageIndex, TopK } from '../../src/index/vector-index.js';

/** Deterministic pseudo-random vectors (xorshift), unit length. */
function randomVectors(count: number, dim: number, seed: number): Float32Array {
  let x = seed >>> 0 || 1;
  const next = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return ((x >>> 0) / 4294967296) * 2 - 1;
  };
  const out = new Float32Array(count * dim);
  for (let r = 0; r < count; r++) {
    let norm = 0;
    for (let e = 0; e < dim; e++) norm += (out[r * dim + e] = next()) ** 2;
    for (let e = 0; e < dim; e++) out[r * dim + e] = (out[r * dim + e] as number) / Math.sqrt(norm);
  }
  return out;
}

function bruteForce(vectors: Float32Array, dim: number, query: Float32Array, k: number): number[] {
  const scores: [number, number][] = [];
  for (let r = 0; r < vectors.length / dim; r++) {
    let s = 0;
    for (let e = 0; e < dim; e++) s += (vectors[r * dim + e] as number) * (query[e] as number);
    scores.push([r, s]);
  }
  return scores.sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, k).map(([r]) => r);
}

describe('float16', () => {
  it('round-trips representable values and rounds the rest to nearest', () => {
    const values = Float32Array.of(0, -0, 1, -2.5, 65504, 6.103515625e-5, 5.960464477539063e-8, 0.1, 1e6, -1e-9);
    const back = float16ToFloat32(float32ToFloat16(values));
    expect(Array.from(back.slice(0, 7))).toEqual([0, -0, 1, -2.5, 65504, 6.103515625e-5, 5.960464477539063e-8]);
    expect(back[7]).toBeCloseTo(0.1, 3);
    expect(back[8]).toBe(Infinity);
    expect(Object.is(back[9], -0)).toBe(true);
  });
});

describe('search', () => {
  const dim = 16;
  const vectors = randomVectors(2000, dim, 7);
  const queries = randomVectors(20, dim, 99);

  it('TopK keeps the best k with deterministic ties', () => {
    const top = new TopK(3);
    [[5, 0.1], [1, 0.9], [2, 0.5], [3, 0.9], [4, 0.2]].forEach(([r, s]) => top.offer(r as number, s as number));
    expect(top.sorted()).toEqual([{ row: 1, score: 0.9 }, { row: 3, score: 0.9 }, { row: 2, score: 0.5 }]);
  });

  it('flat search equals brute force, and k larger than the index returns everything', () => {
    const flat = new FlatSearch(vectors, 2000, dim);
    const hits = flat.search(queries, 10);
    hits.forEach((h, q) => expect(h.map((x) => x.row)).toEqual(bruteForce(vectors, dim, queries.subarray(q * dim, (q + 1) * dim), 10)));
    expect(new FlatSearch(vectors.slice(0, 3 * dim), 3, dim).search(queries.subarray(0, dim), 100)[0]).toHaveLength(3);
  });

  it('flat search on a large index (native shortlist + exact re-scoring) equals brute force', () => {
    const big = randomVectors(6000, dim, 11);
    const flat = new FlatSearch(big, 6000, dim);
    const hits = flat.search(queries, 20);
    hits.forEach((h, q) => {
      const query = queries.subarray(q * dim, (q + 1) * dim);
      expect(h.map((x) => x.row)).toEqual(bruteForce(big, dim, query, 20));
      let exact = 0;
      for (let e = 0; e < dim; e++) exact += big[h[0]!.row * dim + e]! * query[e]!;
      expect(h[0]!.score).toBe(exact);
    });
  });

  it('HNSW (usearch) finds nearly all exact neighbours and survives a save/load', async () => {
    const hnsw = HnswSearch.build(vectors, 2000, dim);
    let found = 0;
    const hits = hnsw.search(queries, 10);
    hits.forEach((h, q) => {
      const exact = new Set(bruteForce(vectors, dim, queries.subarray(q * dim, (q + 1) * dim), 10));
      found += h.filter((x) => exact.has(x.row)).length;
    });
    expect(found / 200).toBeGreaterThan(0.9);
    const dir = await mkdtemp(join(tmpdir(), 'relik-hnsw-'));
    try {
      hnsw.save(join(dir, 'g.usearch'));
      const loaded = HnswSearch.load(join(dir, 'g.usearch'), 2000, dim);
      expect(loaded.search(queries, 10)).toEqual(hits);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('PassageIndex.load', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relik-index-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function writeIndex(name: string, manifest: object, passages: string, embeddings?: Uint8Array, scales?: Float32Array): Promise<string> {
    const d = join(dir, name);
    await import('node:fs/promises').then((fs) => fs.mkdir(d, { recursive: true }));
    await writeFile(join(d, 'index.json'), JSON.stringify(manifest));
    await writeFile(join(d, 'passages.jsonl'), passages);
    if (embeddings) await writeFile(join(d, 'embeddings.bin'), embeddings);
    if (scales) await writeFile(join(d, 'scales.bin'), new Uint8Array(scales.buffer));
    return d;
  }

  it('reads int8 embeddings with per-row scales', async () => {
    const d = await writeIndex('int8', { count: 2, dim: 2, dtype: 'int8', embeddings: 'embeddings.bin', scales: 'scales.bin' }, '{"id":"a","title":"A"}\n{"id":"b","title":"B"}\n', Uint8Array.from([127, 0, 0x81, 64]), Float32Array.of(0.5, 0.25));
    const index = await PassageIndex.load(d);
    const hits = index.search?.search(Float32Array.of(1, 0), 2)[0];
    expect(hits?.map((h) => [h.row, h.score])).toEqual([[0, 63.5], [1, -31.75]]);
    expect(index.passages[1]).toEqual({ id: 'b', title: 'B', text: 'B' });
  });

  it('names the file and the problem for bad indexes', async () => {
    const dup = await writeIndex('dup', { count: 2, dim: 2, dtype: 'float32', embeddings: null }, '{"id":"a","title":"A"}\n{"id":"a","title":"B"}\n');
    await expect(PassageIndex.load(dup)).rejects.toThrow(/duplicate id "a" \(first on line 1\).*passages\.jsonl:2/);
    const short = await writeIndex('short', { count: 2, dim: 4, dtype: 'float32', embeddings: 'embeddings.bin' }, '{"id":"a","title":"A"}\n{"id":"b","title":"B"}\n', new Uint8Array(8));
    await expect(PassageIndex.load(short)).rejects.toThrow(/file has 8 bytes, expected 32/);
    const count = await writeIndex('count', { count: 3, dim: 2, dtype: 'float32', embeddings: null }, '{"id":"a","title":"A"}\n');
    await expect(PassageIndex.load(count)).rejects.toThrow(IndexError);
    const badType = await writeIndex('dtype', { count: 1, dim: 2, dtype: 'bf16', embeddings: null }, '{"id":"a","title":"A"}\n');
    await expect(PassageIndex.load(badType)).rejects.toThrow(/dtype must be one of float16, float32, int8, got "bf16"/);
    await expect(PassageIndex.load(join(dir, 'missing'))).rejects.toThrow(/cannot read: ENOENT.*index\.json/);
  });
});
