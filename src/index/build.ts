import { createReadStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { IndexError } from '../errors.js';
import type { Retriever } from '../pipeline/retriever.js';
import { HnswSearch } from './ann.js';
import { float32ToFloat16 } from './float16.js';
import { parsePassage, passageLine, type Passage } from './passages.js';
import type { EmbeddingDType, IndexManifest } from './vector-index.js';

/**
 * Reads a user KB in JSONL: one `{"id", "title", "description"?, "aliases"?}` per line (`text` overrides the passage).
 * Errors name the file and line; duplicate ids are an error, not a silent overwrite.
 */
export async function readKnowledgeBase(path: string): Promise<Passage[]> {
  const passages: Passage[] = [];
  const seen = new Map<string, number>();
  let lineNumber = 0;
  try {
    for await (const line of createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity })) {
      lineNumber += 1;
      if (line.trim() === '') continue;
      passages.push(parsePassage(line, `${path}:${lineNumber}`, seen, lineNumber));
    }
  } catch (error) {
    if (error instanceof IndexError) throw error;
    throw new IndexError(`cannot read the knowledge base: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, path);
  }
  if (passages.length === 0) throw new IndexError('the knowledge base has no entries', path);
  return passages;
}

export interface BuildIndexOptions {
  readonly dtype?: EmbeddingDType;
  readonly maxPassageTokens?: number;
  /** Also build a usearch HNSW graph for approximate search (large KBs). */
  readonly hnsw?: boolean;
  readonly onProgress?: (done: number, total: number) => void;
}

/** Embeds every passage with the retriever and writes index.json, embeddings.bin and passages.jsonl into `dir`. */
export async function buildIndex(retriever: Retriever, passages: readonly Passage[], dir: string, options: BuildIndexOptions = {}): Promise<IndexManifest> {
  const dtype = options.dtype ?? 'float16';
  if (dtype === 'int8') throw new RangeError('dtype int8 is read but not written yet; use float16 or float32');
  const maxPassageTokens = options.maxPassageTokens ?? 64;
  // Sorting by length keeps padding small; rows are written back in KB order.
  const ids = passages.map((p) => retriever.passageIds(p.text, maxPassageTokens));
  const order = ids.map((_, i) => i).sort((a, b) => (ids[a] as number[]).length - (ids[b] as number[]).length);
  const { vectors, dim } = await retriever.embed(order.map((i) => ids[i] as number[]), (done) => options.onProgress?.(done, passages.length));
  const rows = new Float32Array(vectors.length);
  order.forEach((row, k) => rows.set(vectors.subarray(k * dim, (k + 1) * dim), row * dim));

  await mkdir(dir, { recursive: true });
  const data = dtype === 'float16' ? float32ToFloat16(rows) : rows;
  await writeFile(join(dir, 'embeddings.bin'), new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  await writeFile(join(dir, 'passages.jsonl'), passages.map(passageLine).join('\n') + '\n');
  let ann: IndexManifest['ann'] = null;
  if (options.hnsw === true) {
    HnswSearch.build(rows, passages.length, dim).save(join(dir, 'hnsw.usearch'));
    ann = { kind: 'hnsw', file: 'hnsw.usearch', expansionSearch: 128 };
  }
  const manifest: IndexManifest = { count: passages.length, dim, dtype, embeddings: 'embeddings.bin', scales: null, passages: 'passages.jsonl', maxPassageTokens, ann };
  await writeFile(join(dir, 'index.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
