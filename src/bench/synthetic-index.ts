/**
 * `relik bench --index-synthetic N`: builds a random N x dim index in a temporary folder (flat float16, and
 * optionally a usearch HNSW graph), then measures load time, top-k query latency and HNSW recall against exact search.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { HnswSearch } from '../index/ann.js';
import { float32ToFloat16 } from '../index/float16.js';
import { PassageIndex, type SearchHit, type VectorSearch } from '../index/vector-index.js';
import { round, summarizeLatencies, type LatencySummary } from './stats.js';

/** Settings of a synthetic index benchmark. */
export interface SyntheticIndexSettings {
  readonly count: number;
  readonly dim: number;
  readonly queries: number;
  readonly k: number;
  /** Also build and measure an HNSW graph (slow to build at 1M: about 10 minutes on 2 cores). */
  readonly hnsw: boolean;
  readonly expansionSearch: number;
  readonly seed: number;
  /** Folder to build in (default: a fresh temporary folder, removed afterwards). */
  readonly dir?: string;
  /** Keep the built folder. */
  readonly keep: boolean;
}

/** Results of one search method. */
export interface SearchMeasurement {
  /** `PassageIndex.load` wall time (passages.jsonl + embeddings or graph), ms. */
  readonly loadMs: number;
  /** Process RSS growth during the load, bytes (approximate: GC can run meanwhile). */
  readonly loadRssDeltaBytes: number;
  /** One query at a time, top-k. */
  readonly latency: LatencySummary;
  /** Mean recall@k against exact search (1 for the exact method). */
  readonly recall: number;
}

/** Result of the synthetic index benchmark. */
export interface SyntheticIndexResult {
  readonly settings: Omit<SyntheticIndexSettings, 'dir'> & { readonly dir: string };
  readonly generateMs: number;
  readonly writeMs: number;
  readonly embeddingsBytes: number;
  readonly flat: SearchMeasurement;
  readonly hnsw: (SearchMeasurement & { readonly buildMs: number; readonly graphBytes: number; readonly graphLoadMs: number }) | null;
}

/** Deterministic PRNG (mulberry32), uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `count` L2-normalised vectors scattered around `clusters` random centres (like real embeddings, which are far
 * from uniform on the sphere). Row-major count x dim.
 */
export function clusteredVectors(count: number, dim: number, seed: number, clusters = 1000): Float32Array {
  const random = mulberry32(seed);
  const gaussian = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const centres = new Float32Array(Math.min(clusters, Math.max(1, count)) * dim);
  for (let i = 0; i < centres.length; i++) centres[i] = gaussian();
  const nCentres = centres.length / dim;
  const out = new Float32Array(count * dim);
  for (let row = 0; row < count; row++) {
    const c = Math.floor(random() * nCentres) * dim;
    let norm = 0;
    for (let e = 0; e < dim; e++) {
      const v = (centres[c + e] as number) + 0.6 * gaussian();
      out[row * dim + e] = v;
      norm += v * v;
    }
    const inv = 1 / Math.sqrt(norm || 1);
    for (let e = 0; e < dim; e++) out[row * dim + e] = (out[row * dim + e] as number) * inv;
  }
  return out;
}

/** Index rows and queries drawn from the same clusters (queries are not rows themselves). */
function rowsAndQueries(count: number, queries: number, dim: number, seed: number): { rows: Float32Array; queries: Float32Array } {
  const all = clusteredVectors(count + queries, dim, seed);
  return { rows: all.subarray(0, count * dim), queries: all.slice(count * dim) };
}

/** Mean fraction of the exact top-k rows that `found` returns, over queries. */
export function recallAtK(exact: readonly (readonly SearchHit[])[], found: readonly (readonly SearchHit[])[]): number {
  if (exact.length !== found.length) throw new RangeError(`recall: ${exact.length} exact result lists but ${found.length} found`);
  if (exact.length === 0) return 1;
  let sum = 0;
  exact.forEach((truth, q) => {
    if (truth.length === 0) {
      sum += 1;
      return;
    }
    const rows = new Set(truth.map((h) => h.row));
    sum += (found[q] as readonly SearchHit[]).filter((h) => rows.has(h.row)).length / truth.length;
  });
  return round(sum / exact.length, 4);
}

async function writePassages(path: string, count: number): Promise<void> {
  const out = createWriteStream(path);
  const chunk = 10_000;
  for (let start = 0; start < count; start += chunk) {
    let text = '';
    for (let i = start; i < Math.min(count, start + chunk); i++) text += `{"id":"E${i}","title":"Entity ${i}","text":"Entity ${i}"}\n`;
    if (!out.write(text)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

const FLAT_MANIFEST = (count: number, dim: number): Record<string, unknown> => ({
  count,
  dim,
  dtype: 'float16',
  embeddings: 'embeddings.bin',
  passages: 'passages.jsonl',
  maxPassageTokens: 64,
});

/** Writes a flat float16 index folder (embeddings.bin, passages.jsonl, index.json); returns the embedding bytes. */
async function writeFlatIndex(dir: string, vectors: Float32Array, count: number, dim: number): Promise<number> {
  const half = float32ToFloat16(vectors);
  await writeFile(join(dir, 'embeddings.bin'), new Uint8Array(half.buffer, half.byteOffset, half.byteLength));
  await writePassages(join(dir, 'passages.jsonl'), count);
  await writeFile(join(dir, 'index.json'), `${JSON.stringify(FLAT_MANIFEST(count, dim), null, 2)}\n`);
  return half.byteLength;
}

function timeQueries(search: VectorSearch, queries: Float32Array, dim: number, k: number): { hits: SearchHit[][]; ms: number[] } {
  const hits: SearchHit[][] = [];
  const ms: number[] = [];
  for (let q = 0; q < queries.length / dim; q++) {
    const query = queries.slice(q * dim, (q + 1) * dim);
    const t = performance.now();
    const [result] = search.search(query, k);
    ms.push(performance.now() - t);
    hits.push(result ?? []);
  }
  return { hits, ms };
}

async function timedLoad(dir: string, search: 'auto' | 'exact'): Promise<{ index: PassageIndex; ms: number; rss: number }> {
  const rss = process.memoryUsage().rss;
  const t = performance.now();
  const index = await PassageIndex.load(dir, { search });
  return { index, ms: round(performance.now() - t), rss: process.memoryUsage().rss - rss };
}

/** Runs the synthetic index benchmark; `log` receives progress lines. */
export async function benchSyntheticIndex(settings: SyntheticIndexSettings, log: (line: string) => void = () => {}): Promise<SyntheticIndexResult> {
  const { count, dim, k } = settings;
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`index size must be an integer >= 1, got ${count}`);
  const dir = settings.dir ?? (await mkdtemp(join(tmpdir(), 'relik-bench-index-')));
  try {
    log(`generating ${count} x ${dim} vectors`);
    let t = performance.now();
    let vectors: Float32Array | null;
    let queries: Float32Array;
    ({ rows: vectors, queries } = rowsAndQueries(count, settings.queries, dim, settings.seed));
    const generateMs = round(performance.now() - t);

    log(`writing flat float16 index to ${dir}`);
    t = performance.now();
    const embeddingsBytes = await writeFlatIndex(dir, vectors, count, dim);
    const writeMs = round(performance.now() - t);

    let hnswBuildMs: number | null = null;
    if (settings.hnsw) {
      log(`building HNSW graph (M=16, ef_add=128) over ${count} vectors`);
      t = performance.now();
      const graph = HnswSearch.build(vectors, count, dim, { expansionSearch: settings.expansionSearch });
      graph.save(join(dir, 'hnsw.usearch'));
      hnswBuildMs = round(performance.now() - t);
    }
    vectors = null; // the loads below must not share memory with the generator

    log('loading flat index and running exact queries');
    const flatLoad = await timedLoad(dir, 'exact');
    const flatSearch = flatLoad.index.search as VectorSearch;
    const exact = timeQueries(flatSearch, queries, dim, k);
    const flat: SearchMeasurement = {
      loadMs: flatLoad.ms,
      loadRssDeltaBytes: flatLoad.rss,
      latency: summarizeLatencies(exact.ms) as LatencySummary,
      recall: 1,
    };

    let hnsw: SyntheticIndexResult['hnsw'] = null;
    if (hnswBuildMs !== null) {
      const graphBytes = (await stat(join(dir, 'hnsw.usearch'))).size;
      await writeFile(join(dir, 'index.json'), `${JSON.stringify({ ...FLAT_MANIFEST(count, dim), ann: { kind: 'hnsw', file: 'hnsw.usearch', expansionSearch: settings.expansionSearch } }, null, 2)}\n`);
      log('loading HNSW index and running approximate queries');
      t = performance.now();
      HnswSearch.load(join(dir, 'hnsw.usearch'), count, dim, settings.expansionSearch);
      const graphLoadMs = round(performance.now() - t);
      const load = await timedLoad(dir, 'auto');
      const approx = timeQueries(load.index.search as VectorSearch, queries, dim, k);
      hnsw = {
        buildMs: hnswBuildMs,
        graphBytes,
        graphLoadMs,
        loadMs: load.ms,
        loadRssDeltaBytes: load.rss,
        latency: summarizeLatencies(approx.ms) as LatencySummary,
        recall: recallAtK(exact.hits, approx.hits),
      };
    }
    return { settings: { ...settings, dir }, generateMs, writeMs, embeddingsBytes, flat, hnsw };
  } finally {
    if (!settings.keep) await rm(dir, { recursive: true, force: true });
  }
}
