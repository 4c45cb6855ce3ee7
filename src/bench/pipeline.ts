/**
 * The end-to-end benchmark of `relik bench BUNDLE DATASET`: cold start, throughput with a per-stage breakdown,
 * single-text latency and memory, on the documents of a named dataset.
 */
import { open, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { EvalDocument } from '../data/schema.js';
import { resolveOptions, prepareDocument, type PreparedDocument } from '../options.js';
import { annotateDocuments, type PipelineParts } from '../pipeline/annotate.js';
import { WorkerPool } from '../server/pool.js';
import { Relik } from '../relik.js';
import type { AnnotateInput } from '../types.js';
import { StageAccumulator, stageBreakdown, type StageBreakdown } from './stages.js';
import { perSecond, round, summarizeLatencies, type LatencySummary } from './stats.js';

/** Settings of a pipeline benchmark. */
export interface PipelineBenchSettings {
  readonly bundle: string;
  /** Documents per `annotate` call in the throughput run. */
  readonly batchSize: number;
  /** Documents annotated (in batches) before timing starts. */
  readonly warmup: number;
  /** Single-text `annotate` calls timed for latency (the first documents). */
  readonly latencySamples: number;
  /** ONNX intra-op threads (default: onnxruntime's, all cores). */
  readonly threads?: number;
  /** Give the model the dataset's own words instead of splitting the text (the input the Python side gets). */
  readonly datasetWords: boolean;
  /** Also time the same batches on this many worker threads (one ONNX session with 1 thread each); 0 = skip. */
  readonly workers?: number;
}

/** What the reader ONNX graph holds. */
export type ModelPrecision = 'int8-block' | 'int8-block-emb4' | 'int8-dynamic' | 'int8-mixed' | 'fp32';

/** The benchmarked bundle. */
export interface BundleInfo {
  readonly dir: string;
  readonly name: string;
  readonly task: string;
  readonly readerModelBytes: number;
  /** How the reader graph is quantized ({@link onnxPrecision}). */
  readonly readerPrecision: ModelPrecision;
  readonly entityCount: number;
}

/** Result of a pipeline benchmark. */
export interface PipelineBenchResult {
  readonly bundle: BundleInfo;
  readonly documents: { readonly count: number; readonly words: number; readonly characters: number; readonly skippedEmpty: number };
  readonly coldStart: {
    /** `Relik.load` wall time, ms. */
    readonly loadMs: number;
    /** Time from process start until the bundle was loaded (module imports included), ms. */
    readonly sinceProcessStartMs: number;
  };
  readonly throughput: {
    readonly wallMs: number;
    readonly documentsPerSecond: number;
    /** Words of the documents per second (the tokens of the word splitter, or the dataset's). */
    readonly wordsPerSecond: number;
    /** Reader input tokens (subwords, candidates and markers, unpadded) per second. */
    readonly readerTokensPerSecond: number;
    readonly windows: number;
    readonly passes: number;
    readonly readerTokens: number;
    readonly batches: number;
  };
  readonly stages: StageBreakdown;
  readonly latency: LatencySummary | null;
  /** The throughput run again on worker threads (`--workers`), or null. */
  readonly parallel: { readonly workers: number; readonly wallMs: number; readonly documentsPerSecond: number } | null;
  readonly memory: {
    readonly rssAfterLoadBytes: number;
    /** Largest RSS sampled after each batch and latency call. */
    readonly rssMaxSampledBytes: number;
    /** Process peak RSS (`process.resourceUsage().maxRSS`), including dataset loading. */
    readonly peakRssBytes: number;
  };
}

/**
 * The pipeline parts of a loaded {@link Relik}. They are private to the class; the benchmark reads them to pass a
 * timing collector to {@link annotateDocuments} (the same call `Relik.annotate` makes).
 */
export function pipelinePartsOf(relik: Relik): PipelineParts {
  const parts: unknown = Reflect.get(relik, 'parts');
  if (typeof parts !== 'object' || parts === null || !('reader' in parts) || !('manifest' in parts) || !('entities' in parts) || !('relations' in parts)) {
    throw new TypeError('Relik instance has no pipeline parts (src/relik.ts changed?); the stage benchmark needs them');
  }
  return parts as PipelineParts;
}

/** Wraps the index searches of the bundle so their time is recorded as `retrievalSearch`. */
function timeSearches(parts: PipelineParts, stages: StageAccumulator): void {
  for (const source of [parts.entities, parts.relations]) {
    const search = source?.index.search;
    if (search === null || search === undefined) continue;
    const inner = search.search.bind(search);
    search.search = (queries, k) => {
      const t = performance.now();
      try {
        return inner(queries, k);
      } finally {
        stages.searchMs += performance.now() - t;
      }
    };
  }
}

/**
 * How an ONNX file's MatMuls are quantized, from the op names in its bytes: `int8-block` (MatMulNBits, 8-bit
 * block-wise weights; `int8-block-emb4` when the embeddings are 4-bit GatherBlockQuantized), `int8-dynamic`
 * (MatMulInteger / DynamicQuantizeLinear), `int8-mixed` (both), else `fp32`.
 */
export async function onnxPrecision(path: string): Promise<ModelPrecision> {
  const file = await open(path, 'r');
  const kinds = {
    block: [Buffer.from('MatMulNBits', 'latin1')],
    dynamic: ['MatMulInteger', 'DynamicQuantizeLinear', 'DynamicQuantizeMatMul'].map((s) => Buffer.from(s, 'latin1')),
    gather4: [Buffer.from('GatherBlockQuantized', 'latin1')],
  };
  let block = false;
  let dynamic = false;
  let gather4 = false;
  try {
    const chunk = Buffer.alloc(1 << 20);
    let carry = Buffer.alloc(0);
    for (;;) {
      const { bytesRead } = await file.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      const window = Buffer.concat([carry, chunk.subarray(0, bytesRead)]);
      block ||= kinds.block.some((n) => window.includes(n));
      dynamic ||= kinds.dynamic.some((n) => window.includes(n));
      gather4 ||= kinds.gather4.some((n) => window.includes(n));
      carry = window.subarray(Math.max(0, window.length - 32));
    }
  } finally {
    await file.close();
  }
  if (block && dynamic) return 'int8-mixed';
  if (block) return gather4 ? 'int8-block-emb4' : 'int8-block';
  return dynamic ? 'int8-dynamic' : 'fp32';
}

function toInput(doc: EvalDocument, datasetWords: boolean): AnnotateInput {
  return datasetWords && doc.words !== undefined ? { text: doc.text, words: doc.words } : doc.text;
}

/** Runs the pipeline benchmark over `docs`; `log` receives progress lines. */
export async function benchPipeline(settings: PipelineBenchSettings, docs: readonly EvalDocument[], log: (line: string) => void = () => {}): Promise<PipelineBenchResult> {
  const usable = docs.filter((d) => d.text.trim() !== '');
  if (usable.length === 0) throw new RangeError('no non-empty documents to benchmark');
  const inputs = usable.map((d) => toInput(d, settings.datasetWords));

  log(`loading ${settings.bundle}`);
  const t0 = performance.now();
  const relik = await Relik.load(settings.bundle, settings.threads === undefined ? {} : { threads: settings.threads });
  const loadMs = performance.now() - t0;
  const sinceProcessStartMs = performance.now();
  const rssAfterLoad = process.memoryUsage().rss;
  let rssMax = rssAfterLoad;
  const sampleRss = (): void => {
    rssMax = Math.max(rssMax, process.memoryUsage().rss);
  };
  try {
    const parts = pipelinePartsOf(relik);
    const readerPath = join(resolve(settings.bundle), relik.manifest.reader.dir, 'model.onnx');
    const bundle: BundleInfo = {
      dir: resolve(settings.bundle),
      name: relik.name,
      task: relik.task,
      readerModelBytes: (await stat(readerPath)).size,
      readerPrecision: await onnxPrecision(readerPath),
      entityCount: relik.entityCount,
    };

    const batches: AnnotateInput[][] = [];
    for (let i = 0; i < inputs.length; i += settings.batchSize) batches.push(inputs.slice(i, i + settings.batchSize));

    if (settings.warmup > 0) {
      log(`warm-up: ${settings.warmup} documents`);
      const warm = inputs.slice(0, settings.warmup);
      for (let i = 0; i < warm.length; i += settings.batchSize) await relik.annotate(warm.slice(i, i + settings.batchSize));
    }

    log(`throughput: ${inputs.length} documents in ${batches.length} batches of <= ${settings.batchSize}`);
    const stages = new StageAccumulator();
    timeSearches(parts, stages);
    let words = 0;
    const start = performance.now();
    for (const batch of batches) {
      // What Relik.annotate does, with the words stage and the pipeline stages timed.
      const tw = performance.now();
      const resolved = resolveOptions(relik.manifest, undefined, batch.length);
      const prepared: PreparedDocument[] = batch.map((input, i) => prepareDocument(input, i, undefined));
      stages.wordsMs += performance.now() - tw;
      for (const doc of prepared) words += doc.words.length;
      await annotateDocuments(parts, prepared, resolved, stages);
      sampleRss();
    }
    const wallMs = performance.now() - start;
    const stageMs = stages.stageMs(); // before the latency calls, which also pass through the search wrapper

    const latencies: number[] = [];
    const latencyInputs = inputs.slice(0, settings.latencySamples);
    if (latencyInputs.length > 0) log(`latency: ${latencyInputs.length} single-text calls`);
    for (const input of latencyInputs) {
      const t = performance.now();
      await relik.annotate(input);
      latencies.push(performance.now() - t);
      sampleRss();
    }

    const parallel = settings.workers !== undefined && settings.workers > 0 ? await parallelThroughput(settings.bundle, settings.workers, batches, settings.warmup, log) : null;

    return {
      bundle,
      parallel,
      documents: { count: inputs.length, words, characters: usable.reduce((s, d) => s + d.text.length, 0), skippedEmpty: docs.length - usable.length },
      coldStart: { loadMs: round(loadMs), sinceProcessStartMs: round(sinceProcessStartMs) },
      throughput: {
        wallMs: round(wallMs),
        documentsPerSecond: perSecond(inputs.length, wallMs),
        wordsPerSecond: perSecond(words, wallMs),
        readerTokensPerSecond: perSecond(stages.counter('readerTokens'), wallMs),
        windows: stages.counter('windows'),
        passes: stages.counter('passes'),
        readerTokens: stages.counter('readerTokens'),
        batches: batches.length,
      },
      stages: stageBreakdown(stageMs, wallMs),
      latency: summarizeLatencies(latencies),
      memory: { rssAfterLoadBytes: rssAfterLoad, rssMaxSampledBytes: rssMax, peakRssBytes: process.resourceUsage().maxRSS * 1024 },
    };
  } finally {
    await relik.close();
  }
}

/**
 * Throughput on worker threads: each worker holds its own bundle with a 1-thread ONNX session, and batches go to
 * whichever worker is free (what `relik serve` and corpus runs do). On 2 cores this beats one 2-thread session.
 */
async function parallelThroughput(bundle: string, workers: number, batches: readonly AnnotateInput[][], warmup: number, log: (line: string) => void): Promise<PipelineBenchResult['parallel']> {
  log(`parallel: ${workers} worker threads x 1 ONNX thread`);
  const pool = await WorkerPool.start({ bundle, workers, threads: 1 });
  try {
    const runAll = async (list: readonly AnnotateInput[][]): Promise<void> => {
      let next = 0;
      const lane = async (): Promise<void> => {
        while (next < list.length) {
          const batch = list[next++] as AnnotateInput[];
          while (pool.idle === 0) await new Promise((r) => setTimeout(r, 1));
          await pool.run(batch, {});
        }
      };
      await Promise.all(Array.from({ length: workers }, lane));
    };
    if (warmup > 0) await runAll(batches.slice(0, Math.max(workers, Math.ceil(warmup / Math.max(1, batches[0]?.length ?? 1)))));
    const start = performance.now();
    await runAll(batches);
    const wallMs = performance.now() - start;
    const count = batches.reduce((n, b) => n + b.length, 0);
    return { workers, wallMs: round(wallMs), documentsPerSecond: perSecond(count, wallMs) };
  } finally {
    await pool.close();
  }
}
