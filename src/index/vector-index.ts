import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { IndexError } from '../errors.js';
import { parseJsonObject } from '../util/json.js';
import { exactSearch, MetricKind } from 'usearch';
import { HnswSearch } from './ann.js';
import { float16ToFloat32 } from './float16.js';
import { readPassages, type Passage } from './passages.js';

export type EmbeddingDType = 'float16' | 'float32' | 'int8';

/** index.json */
export interface IndexManifest {
  readonly count: number;
  readonly dim: number;
  readonly dtype: EmbeddingDType;
  readonly embeddings: string | null;
  readonly scales: string | null;
  readonly passages: string;
  readonly maxPassageTokens: number;
  /** Optional approximate-search graph (usearch HNSW file in the index folder). */
  readonly ann: { readonly kind: 'hnsw'; readonly file: string; readonly expansionSearch: number } | null;
}

export interface SearchHit {
  /** Row in the index (= line in passages.jsonl). */
  readonly row: number;
  readonly score: number;
}

/** Inner-product top-K search over embedding rows. Implementations: exact flat scan (here), approximate (usearch). */
export interface VectorSearch {
  readonly count: number;
  readonly dim: number;
  search(queries: Float32Array, k: number): SearchHit[][];
  /** Exact scores of the given rows for one query (searches that keep their vectors). */
  scoreRows?(query: Float32Array, rows: readonly number[]): number[];
}

/** Rows the native scan returns beyond k, re-scored exactly so near-ties at the cut do not depend on SIMD rounding. */
const RESCORE_MARGIN = 16;
/** Below this many rows the plain scan is as fast as the native call. */
const NATIVE_MIN_ROWS = 2048;

/**
 * Exact search: every row is scored. Large indexes use usearch's SIMD brute force (several times faster than a
 * JavaScript loop) for a shortlist of k + 16 rows per query, then every score is recomputed here, so results and
 * their order are those of the plain scan.
 */
export class FlatSearch implements VectorSearch {
  constructor(
    private readonly vectors: Float32Array,
    readonly count: number,
    readonly dim: number,
  ) {
    if (vectors.length !== count * dim) throw new RangeError(`vectors has ${vectors.length} values, expected count*dim = ${count * dim}`);
  }

  private score(query: Float32Array, row: number): number {
    const base = row * this.dim;
    let score = 0;
    for (let e = 0; e < this.dim; e++) score += (query[e] as number) * (this.vectors[base + e] as number);
    return score;
  }

  scoreRows(query: Float32Array, rows: readonly number[]): number[] {
    return rows.map((row) => this.score(query, row));
  }

  search(queries: Float32Array, k: number): SearchHit[][] {
    if (queries.length % this.dim !== 0) throw new RangeError(`queries length ${queries.length} is not a multiple of dim ${this.dim}`);
    const count = queries.length / this.dim;
    const limit = Math.min(k, this.count);
    const shortlist = this.count >= NATIVE_MIN_ROWS && limit > 0 ? nativeShortlist(this.vectors, queries, this.dim, Math.min(this.count, limit + RESCORE_MARGIN)) : null;
    const results: SearchHit[][] = [];
    for (let q = 0; q < count; q++) {
      const query = queries.subarray(q * this.dim, (q + 1) * this.dim);
      const heap = new TopK(limit);
      const rows = shortlist?.[q];
      if (rows !== undefined) for (const row of rows) heap.offer(row, this.score(query, row));
      else for (let row = 0; row < this.count; row++) heap.offer(row, this.score(query, row));
      results.push(heap.sorted());
    }
    return results;
  }
}

/** Candidate rows per query from usearch's exact SIMD scan, or null when the native module is unusable. */
function nativeShortlist(vectors: Float32Array, queries: Float32Array, dim: number, k: number): number[][] | null {
  try {
    // usearch reads whole ArrayBuffers, so both sides must be arrays that own their buffer from offset 0.
    const dataset = vectors.byteOffset === 0 && vectors.buffer.byteLength === vectors.byteLength ? vectors : vectors.slice();
    const matches = exactSearch(dataset, queries.slice(), dim, k, MetricKind.IP, 0);
    const keys = matches.keys;
    const perQuery = keys.length / (queries.length / dim);
    const out: number[][] = [];
    for (let q = 0; q < queries.length / dim; q++) out.push(Array.from(keys.subarray(q * perQuery, (q + 1) * perQuery), Number));
    return out;
  } catch {
    return null;
  }
}

/** Keeps the k best (row, score) pairs; ties broken by lower row for deterministic output. */
export class TopK {
  private readonly rows: Int32Array;
  private readonly scores: Float64Array;
  private size = 0;

  constructor(private readonly k: number) {
    this.rows = new Int32Array(k);
    this.scores = new Float64Array(k);
  }

  private worse(i: number, j: number): boolean {
    const a = this.scores[i] as number;
    const b = this.scores[j] as number;
    return a < b || (a === b && (this.rows[i] as number) > (this.rows[j] as number));
  }

  private swap(i: number, j: number): void {
    const r = this.rows[i] as number;
    this.rows[i] = this.rows[j] as number;
    this.rows[j] = r;
    const s = this.scores[i] as number;
    this.scores[i] = this.scores[j] as number;
    this.scores[j] = s;
  }

  offer(row: number, score: number): void {
    if (this.k === 0) return;
    if (this.size < this.k) {
      let i = this.size++;
      this.rows[i] = row;
      this.scores[i] = score;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!this.worse(i, parent)) break;
        this.swap(i, parent);
        i = parent;
      }
      return;
    }
    const rootScore = this.scores[0] as number;
    if (score < rootScore || (score === rootScore && row > (this.rows[0] as number))) return;
    this.rows[0] = row;
    this.scores[0] = score;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < this.size && this.worse(left, smallest)) smallest = left;
      if (right < this.size && this.worse(right, smallest)) smallest = right;
      if (smallest === i) break;
      this.swap(i, smallest);
      i = smallest;
    }
  }

  sorted(): SearchHit[] {
    const hits: SearchHit[] = [];
    for (let i = 0; i < this.size; i++) hits.push({ row: this.rows[i] as number, score: this.scores[i] as number });
    return hits.sort((a, b) => b.score - a.score || a.row - b.row);
  }
}

/** An index folder: passages plus (optionally) their embeddings and a search structure. */
export class PassageIndex {
  constructor(
    readonly dir: string,
    readonly manifest: IndexManifest,
    readonly passages: readonly Passage[],
    readonly search: VectorSearch | null,
  ) {}

  /** Loads an index folder; `search: 'exact'` ignores an HNSW graph and scans all rows. */
  static async load(dir: string, options: { readonly search?: 'auto' | 'exact' } = {}): Promise<PassageIndex> {
    const manifestPath = join(dir, 'index.json');
    const manifest = parseIndexManifest(await readText(manifestPath), manifestPath);
    const passages = await readPassages(join(dir, manifest.passages));
    if (passages.length !== manifest.count) {
      throw new IndexError(`index.json says count=${manifest.count} but passages.jsonl has ${passages.length} passages`, join(dir, manifest.passages));
    }
    let search: VectorSearch | null = null;
    if (manifest.embeddings !== null) {
      if (manifest.ann !== null && options.search !== 'exact') {
        search = HnswSearch.load(join(dir, manifest.ann.file), manifest.count, manifest.dim, manifest.ann.expansionSearch);
      } else {
        search = new FlatSearch(await readEmbeddings(dir, manifest), manifest.count, manifest.dim);
      }
    }
    return new PassageIndex(dir, manifest, passages, search);
  }
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new IndexError(`cannot read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, path);
  }
}

export function parseIndexManifest(text: string, path: string): IndexManifest {
  const m = parseJsonObject(text, 'index.json', (message) => new IndexError(message, path));
  const positive = (field: string, allowZero: boolean): number => {
    const v = m[field];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < (allowZero ? 0 : 1)) throw new IndexError(`index.json: ${field} must be an integer >= ${allowZero ? 0 : 1}`, path);
    return v;
  };
  const dtype = m.dtype ?? 'float16';
  if (dtype !== 'float16' && dtype !== 'float32' && dtype !== 'int8') throw new IndexError(`index.json: dtype must be one of float16, float32, int8, got ${JSON.stringify(dtype)}`, path);
  const optionalName = (field: string): string | null => {
    const v = m[field];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string' || v.includes('..') || v.startsWith('/')) throw new IndexError(`index.json: ${field} must be a file name inside the index folder`, path);
    return v;
  };
  const embeddings = optionalName('embeddings');
  const annRaw = m.ann as Record<string, unknown> | null | undefined;
  let ann: IndexManifest['ann'] = null;
  if (annRaw !== undefined && annRaw !== null) {
    if (annRaw.kind !== 'hnsw' || typeof annRaw.file !== 'string' || annRaw.file.includes('..') || annRaw.file.startsWith('/')) {
      throw new IndexError('index.json: ann must be {"kind": "hnsw", "file": <file in the index folder>, "expansionSearch"?: integer}', path);
    }
    ann = { kind: 'hnsw', file: annRaw.file, expansionSearch: typeof annRaw.expansionSearch === 'number' ? annRaw.expansionSearch : 128 };
  }
  const scales = optionalName('scales');
  if (dtype === 'int8' && embeddings !== null && scales === null) throw new IndexError('index.json: int8 embeddings need a "scales" file', path);
  return {
    count: positive('count', true),
    dim: embeddings === null ? (typeof m.dim === 'number' ? m.dim : 0) : positive('dim', false),
    dtype,
    embeddings,
    scales,
    passages: optionalName('passages') ?? 'passages.jsonl',
    maxPassageTokens: typeof m.maxPassageTokens === 'number' ? m.maxPassageTokens : 64,
    ann,
  };
}

const BYTES: Record<EmbeddingDType, number> = { float16: 2, float32: 4, int8: 1 };

async function readBinary(path: string, expectedBytes: number): Promise<Buffer> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch {
    throw new IndexError('embedding file is missing', path);
  }
  if (size !== expectedBytes) throw new IndexError(`file has ${size} bytes, expected ${expectedBytes} (count x dim x element size)`, path);
  return readFile(path);
}

/** Loads embeddings as float32 (float16 and int8 are storage formats). */
async function readEmbeddings(dir: string, manifest: IndexManifest): Promise<Float32Array> {
  const values = manifest.count * manifest.dim;
  const path = join(dir, manifest.embeddings as string);
  const buffer = await readBinary(path, values * BYTES[manifest.dtype]);
  const aligned = new Uint8Array(buffer).buffer; // a fresh, aligned copy
  if (manifest.dtype === 'float32') return new Float32Array(aligned, 0, values);
  if (manifest.dtype === 'float16') return float16ToFloat32(new Uint16Array(aligned, 0, values));
  const scalesPath = join(dir, manifest.scales as string);
  const scaleBuffer = await readBinary(scalesPath, manifest.count * 4);
  const scales = new Float32Array(new Uint8Array(scaleBuffer).buffer, 0, manifest.count);
  const int8 = new Int8Array(aligned, 0, values);
  const out = new Float32Array(values);
  for (let row = 0; row < manifest.count; row++) {
    const scale = scales[row] as number;
    for (let e = 0; e < manifest.dim; e++) out[row * manifest.dim + e] = (int8[row * manifest.dim + e] as number) * scale;
  }
  return out;
}
