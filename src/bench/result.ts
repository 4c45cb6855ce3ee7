/**
 * The JSON document `relik bench` writes (schema `relik-bench/1`), the targets it checks, and its text summary.
 */
import type { MachineInfo } from './machine.js';
import type { PipelineBenchResult, PipelineBenchSettings } from './pipeline.js';
import { REPORTED_STAGES } from './stages.js';
import type { SyntheticIndexResult } from './synthetic-index.js';

/** Schema id of the result document; bump when fields change meaning. */
export const RESULT_SCHEMA = 'relik-bench/1';

/** A performance target and whether the measured value meets it (targets are reported, never asserted). */
export interface TargetCheck {
  readonly name: string;
  readonly target: string;
  readonly value: number;
  readonly unit: string;
  readonly met: boolean;
}

interface ResultBase {
  readonly schema: typeof RESULT_SCHEMA;
  readonly createdAt: string;
  /** Command-line arguments after `bench`. */
  readonly argv: readonly string[];
  readonly machine: MachineInfo;
  readonly targets: readonly TargetCheck[];
}

/** Result of `relik bench BUNDLE DATASET`. */
export interface PipelineResultDocument extends ResultBase {
  readonly kind: 'pipeline';
  readonly dataset: { readonly name: string; readonly input: 'text' | 'dataset-words' };
  readonly settings: Omit<PipelineBenchSettings, 'bundle' | 'datasetWords'>;
  readonly result: PipelineBenchResult;
}

/** Result of `relik bench --index-synthetic N`. */
export interface IndexResultDocument extends ResultBase {
  readonly kind: 'index-synthetic';
  readonly result: SyntheticIndexResult;
}

/** Any result document. */
export type BenchResultDocument = PipelineResultDocument | IndexResultDocument;

const GB = 1024 ** 3;

/** Targets checked on a pipeline run: overhead outside the encoder <= 20 %, peak RSS < 1 GiB. */
export function pipelineTargets(result: PipelineBenchResult): TargetCheck[] {
  const outside = result.stages.outsideEncoderShare;
  const peak = result.memory.peakRssBytes;
  return [
    { name: 'pipeline time outside the reader encoder', target: '<= 20% of wall time', value: outside * 100, unit: '%', met: outside <= 0.2 },
    { name: 'peak RSS', target: '< 1 GiB', value: Math.round((peak / GB) * 1000) / 1000, unit: 'GiB', met: peak < GB },
  ];
}

/** Targets checked on a synthetic index run (they are stated for 1M x 384): < 5 ms per top-100 query, load < 2 s. */
export function indexTargets(result: SyntheticIndexResult): TargetCheck[] {
  const n = result.settings.count;
  const out: TargetCheck[] = [
    { name: `flat: top-${result.settings.k} query p50 (N=${n})`, target: '< 5 ms', value: result.flat.latency.p50Ms, unit: 'ms', met: result.flat.latency.p50Ms < 5 },
    { name: `flat: index load (N=${n})`, target: '< 2000 ms', value: result.flat.loadMs, unit: 'ms', met: result.flat.loadMs < 2000 },
  ];
  if (result.hnsw !== null) {
    out.push(
      { name: `hnsw: top-${result.settings.k} query p50 (N=${n})`, target: '< 5 ms', value: result.hnsw.latency.p50Ms, unit: 'ms', met: result.hnsw.latency.p50Ms < 5 },
      { name: `hnsw: index load (N=${n})`, target: '< 2000 ms', value: result.hnsw.loadMs, unit: 'ms', met: result.hnsw.loadMs < 2000 },
    );
  }
  return out;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(0)} MiB`;
}

function targetLines(targets: readonly TargetCheck[]): string[] {
  return targets.map((t) => `  [${t.met ? 'met' : 'MISSED'}] ${t.name}: ${t.value.toFixed(2)} ${t.unit} (target ${t.target})`);
}

function machineLine(m: MachineInfo): string {
  return `${m.cpuModel}, ${m.cores} cores, node ${m.node}, onnxruntime-node ${m.onnxruntime ?? '?'}, commit ${m.gitCommit?.slice(0, 10) ?? '?'}${m.gitDirty ? ' (dirty)' : ''}, load ${m.loadAverage1m}`;
}

/** A human-readable summary of a result document (the JSON is the record; this is for the terminal). */
export function formatResult(doc: BenchResultDocument): string {
  const lines: string[] = [`machine: ${machineLine(doc.machine)}`];
  if (doc.kind === 'pipeline') {
    const r = doc.result;
    lines.push(
      `bundle: ${r.bundle.name} (${r.bundle.task}, reader ${r.bundle.readerPrecision}, ${mib(r.bundle.readerModelBytes)}) on ${doc.dataset.name} (${doc.dataset.input})`,
      `documents: ${r.documents.count} (${r.documents.words} words), batch ${doc.settings.batchSize}, ${r.throughput.windows} windows, ${r.throughput.passes} reader passes`,
      `cold start: Relik.load ${r.coldStart.loadMs.toFixed(0)} ms (${r.coldStart.sinceProcessStartMs.toFixed(0)} ms since process start)`,
      `throughput: ${r.throughput.documentsPerSecond} docs/s, ${r.throughput.wordsPerSecond} words/s, ${r.throughput.readerTokensPerSecond} reader tokens/s (${(r.throughput.wallMs / 1000).toFixed(2)} s)`,
      ...(r.parallel === null ? [] : [`throughput on ${r.parallel.workers} worker threads: ${r.parallel.documentsPerSecond} docs/s (${(r.parallel.wallMs / 1000).toFixed(2)} s)`]),
      'stages:',
    );
    for (const stage of REPORTED_STAGES) {
      const s = r.stages.stages[stage];
      lines.push(`  ${stage.padEnd(16)} ${s.ms.toFixed(1).padStart(10)} ms  ${(s.share * 100).toFixed(1).padStart(5)}%`);
    }
    lines.push(`  ${'(unaccounted)'.padEnd(16)} ${r.stages.unaccountedMs.toFixed(1).padStart(10)} ms`);
    if (r.latency !== null) lines.push(`latency (single text, n=${r.latency.count}): p50 ${r.latency.p50Ms.toFixed(1)} ms, p95 ${r.latency.p95Ms.toFixed(1)} ms`);
    lines.push(`memory: RSS after load ${mib(r.memory.rssAfterLoadBytes)}, max sampled ${mib(r.memory.rssMaxSampledBytes)}, process peak ${mib(r.memory.peakRssBytes)}`);
  } else {
    const r = doc.result;
    lines.push(`synthetic index: ${r.settings.count} x ${r.settings.dim}, ${r.settings.queries} queries, top-${r.settings.k}`);
    lines.push(`flat float16: load ${r.flat.loadMs.toFixed(0)} ms, query p50 ${r.flat.latency.p50Ms.toFixed(2)} ms, p95 ${r.flat.latency.p95Ms.toFixed(2)} ms`);
    if (r.hnsw !== null) {
      lines.push(
        `hnsw (ef_search ${r.settings.expansionSearch}): build ${(r.hnsw.buildMs / 1000).toFixed(1)} s, graph ${mib(r.hnsw.graphBytes)}, graph load ${r.hnsw.graphLoadMs.toFixed(0)} ms, index load ${r.hnsw.loadMs.toFixed(0)} ms`,
        `  query p50 ${r.hnsw.latency.p50Ms.toFixed(2)} ms, p95 ${r.hnsw.latency.p95Ms.toFixed(2)} ms, recall@${r.settings.k} ${r.hnsw.recall}`,
      );
    }
  }
  lines.push('targets:', ...targetLines(doc.targets));
  return `${lines.join('\n')}\n`;
}
