/** Smoke runs of `relik bench` on the tiny fixture bundles (shape of the result, never timings). */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBench } from '../../src/bench/main.js';
import { onnxPrecision, pipelinePartsOf } from '../../src/bench/pipeline.js';
import { REPORTED_STAGES, StageAccumulator } from '../../src/bench/stages.js';
import { clusteredVectors, recallAtK } from '../../src/bench/synthetic-index.js';
import { RESULT_SCHEMA, type IndexResultDocument, type PipelineResultDocument } from '../../src/bench/result.js';
import { resolveOptions, prepareDocument } from '../../src/options.js';
import { annotateDocuments } from '../../src/pipeline/annotate.js';
import { Relik } from '../../src/relik.js';

const root = join(import.meta.dirname, '..', '..');
const bundle = (name: string): string => join(root, 'fixtures', 'bundles', name);

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

async function bench(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runBench(args, { stdout, stderr });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const TEXTS = [
  'Marie Curie works for Acme Corporation in Paris.',
  'Ada Lovelace was born in London and lived in England.',
  'John Smith founded Globex in Berlin.',
  'This fourth document is beyond the limit.',
];

let dir: string;
let dataset: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'relik-bench-test-'));
  dataset = join(dir, 'docs.jsonl');
  await writeFile(dataset, TEXTS.map((text, i) => JSON.stringify({ id: `d${i}`, text, spans: [], triplets: [] })).join('\n') + '\n');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('relik bench BUNDLE DATASET', () => {
  it.each(['tiny-re', 'tiny-el', 'tiny-cie'])('writes a complete result for %s with --limit 3', async (name) => {
    const out = join(dir, `${name}.json`);
    const run = await bench([bundle(name), dataset, '--limit', '3', '--batch-size', '2', '--warmup', '1', '--latency', '3', '--out', out, '--quiet']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/docs\/s/);
    const doc = JSON.parse(await readFile(out, 'utf8')) as PipelineResultDocument;
    expect(doc.schema).toBe(RESULT_SCHEMA);
    expect(doc.kind).toBe('pipeline');
    expect(doc.machine).toMatchObject({ cores: expect.any(Number), node: process.version, cpuModel: expect.any(String) });
    expect(doc.machine.onnxruntime).toMatch(/^\d+\.\d+/);
    expect(doc.dataset).toEqual({ name: dataset, input: 'text' });
    expect(doc.settings).toEqual({ batchSize: 2, warmup: 1, latencySamples: 3, workers: 0 });
    expect(doc.result.parallel).toBeNull();
    const r = doc.result;
    expect(r.bundle.task).toBe(name.slice(5));
    expect(r.documents.count).toBe(3);
    expect(r.documents.words).toBeGreaterThan(20);
    expect(r.throughput.batches).toBe(2);
    expect(r.throughput.windows).toBeGreaterThanOrEqual(3);
    expect(r.throughput.passes).toBeGreaterThanOrEqual(r.throughput.windows);
    expect(r.throughput.readerTokens).toBeGreaterThan(r.documents.words);
    expect(r.throughput.documentsPerSecond).toBeGreaterThan(0);
    expect(Object.keys(r.stages.stages)).toEqual([...REPORTED_STAGES]);
    expect(r.stages.stages.encoder.ms).toBeGreaterThan(0);
    if (name !== 'tiny-re') expect(r.stages.stages.retrievalSearch.ms).toBeGreaterThan(0);
    expect(r.latency?.count).toBe(3);
    expect(r.memory.peakRssBytes).toBeGreaterThanOrEqual(r.memory.rssAfterLoadBytes);
    expect(r.coldStart.loadMs).toBeGreaterThan(0);
    expect(doc.targets.map((t) => t.name)).toEqual(['pipeline time outside the reader encoder', 'peak RSS']);
  });

  it('passes the dataset words with --dataset-words', async () => {
    const out = join(dir, 'words.json');
    const run = await bench([bundle('tiny-re'), dataset, '--limit', '1', '--latency', '0', '--warmup', '0', '--dataset-words', '--out', out, '--quiet']);
    expect(run.code).toBe(0);
    const doc = JSON.parse(await readFile(out, 'utf8')) as PipelineResultDocument;
    expect(doc.dataset.input).toBe('dataset-words');
    expect(doc.result.latency).toBeNull();
  });

  it('reports usage errors (2) and missing bundles or datasets (1) in one line', async () => {
    expect((await bench([bundle('tiny-re')])).code).toBe(2);
    expect((await bench([bundle('tiny-re'), dataset, '--limit', '0'])).stderr).toMatch(/--limit must be an integer >= 1/);
    expect((await bench(['--bogus'])).code).toBe(2);
    const missing = await bench([join(dir, 'nope'), dataset, '--quiet']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/BundleError/);
    const unknown = await bench([bundle('tiny-re'), 'nosuch:test', '--quiet']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/unknown dataset/);
    expect((await bench(['--help'])).stdout).toMatch(/--index-synthetic/);
  });
});

describe('relik bench --index-synthetic', () => {
  it('builds, loads and queries a small flat + HNSW index', async () => {
    const out = join(dir, 'index.json');
    const run = await bench(['--index-synthetic', '2000', '--dim', '16', '--queries', '5', '--k', '10', '--out', out, '--quiet']);
    expect(run.code).toBe(0);
    const doc = JSON.parse(await readFile(out, 'utf8')) as IndexResultDocument;
    expect(doc.kind).toBe('index-synthetic');
    const r = doc.result;
    expect(r.embeddingsBytes).toBe(2000 * 16 * 2);
    expect(r.flat.latency.count).toBe(5);
    expect(r.flat.recall).toBe(1);
    expect(r.hnsw?.recall).toBeGreaterThan(0.5);
    expect(r.hnsw?.graphBytes).toBeGreaterThan(0);
    expect(doc.targets).toHaveLength(4);
  });

  it('skips HNSW with --no-hnsw', async () => {
    const out = join(dir, 'flat.json');
    expect((await bench(['--index-synthetic', '100', '--dim', '8', '--queries', '2', '--no-hnsw', '--out', out, '--quiet'])).code).toBe(0);
    const doc = JSON.parse(await readFile(out, 'utf8')) as IndexResultDocument;
    expect(doc.result.hnsw).toBeNull();
    expect(doc.targets).toHaveLength(2);
  });
});

describe('harness helpers', () => {
  it('makes deterministic unit vectors and measures recall', () => {
    const a = clusteredVectors(10, 8, 3);
    expect(clusteredVectors(10, 8, 3)).toEqual(a);
    const norm = Math.hypot(...a.subarray(0, 8));
    expect(norm).toBeCloseTo(1, 5);
    const exact = [[{ row: 1, score: 1 }, { row: 2, score: 0.5 }]];
    expect(recallAtK(exact, [[{ row: 2, score: 0.5 }, { row: 9, score: 0.4 }]])).toBe(0.5);
    expect(() => recallAtK(exact, [])).toThrow(RangeError);
  });

  it('detects int8 and fp32 reader graphs', async () => {
    expect(await onnxPrecision(join(bundle('tiny-re'), 'reader', 'model.onnx'))).toMatch(/^(int8-block|int8-dynamic|fp32)$/);
    expect(await onnxPrecision(join(root, 'models', 'default', 'reader', 'model.onnx'))).toBe('int8-block-emb4');
  });

  it('timing the pipeline does not change its results', async () => {
    const relik = await Relik.load(bundle('tiny-cie'));
    try {
      const parts = pipelinePartsOf(relik);
      const resolved = resolveOptions(relik.manifest, undefined, TEXTS.length);
      const docs = TEXTS.map((t, i) => prepareDocument(t, i, undefined));
      const timings = new StageAccumulator();
      const timed = await annotateDocuments(parts, docs, resolved, timings);
      expect(timed).toEqual(await relik.annotate(TEXTS));
      expect(timings.counter('windows')).toBeGreaterThanOrEqual(TEXTS.length);
      expect(timings.pipelineMs('encoder')).toBeGreaterThan(0);
    } finally {
      await relik.close();
    }
  });
});
