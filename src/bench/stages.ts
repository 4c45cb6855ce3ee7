/**
 * Stage accounting for `relik bench`: a {@link StageTimings} collector for the pipeline plus the stages the
 * harness times itself (word splitting, index search inside retrieval), and the derived breakdown.
 */
import type { PipelineCounter, PipelineStage, StageTimings } from '../pipeline/annotate.js';
import { round } from './stats.js';

/** Stages reported by the benchmark, in pipeline order. `retrievalEncode` = retrieval minus index search. */
export const REPORTED_STAGES = ['words', 'windows', 'retrievalEncode', 'retrievalSearch', 'readerInput', 'encoder', 'heads', 'merge'] as const;

/** A stage of the benchmark report. */
export type ReportedStage = (typeof REPORTED_STAGES)[number];

/** Stage times and work counters accumulated over many `annotate` calls. */
export class StageAccumulator implements StageTimings {
  private readonly pipeline = new Map<PipelineStage, number>();
  private readonly counters = new Map<PipelineCounter, number>();
  /** Word splitting and input checks (timed by the harness, outside the pipeline). */
  wordsMs = 0;
  /** Index search time (timed by the harness around `VectorSearch.search`); part of the pipeline's `retrieval`. */
  searchMs = 0;

  add(stage: PipelineStage, ms: number): void {
    this.pipeline.set(stage, (this.pipeline.get(stage) ?? 0) + ms);
  }

  count(counter: PipelineCounter, n: number): void {
    this.counters.set(counter, (this.counters.get(counter) ?? 0) + n);
  }

  /** Milliseconds recorded by the pipeline for `stage`. */
  pipelineMs(stage: PipelineStage): number {
    return this.pipeline.get(stage) ?? 0;
  }

  /** Value of a work counter. */
  counter(counter: PipelineCounter): number {
    return this.counters.get(counter) ?? 0;
  }

  /** Per-stage milliseconds in report terms. */
  stageMs(): Record<ReportedStage, number> {
    const retrieval = this.pipelineMs('retrieval');
    const search = Math.min(this.searchMs, retrieval);
    return {
      words: this.wordsMs,
      windows: this.pipelineMs('windows'),
      retrievalEncode: retrieval - search,
      retrievalSearch: search,
      readerInput: this.pipelineMs('readerInput'),
      encoder: this.pipelineMs('encoder'),
      heads: this.pipelineMs('heads'),
      merge: this.pipelineMs('merge'),
    };
  }
}

/** One stage of the breakdown. */
export interface StageShare {
  readonly ms: number;
  /** Share of the measured wall time, 0..1. */
  readonly share: number;
}

/** The per-stage breakdown of a timed run. */
export interface StageBreakdown {
  readonly stages: Record<ReportedStage, StageShare>;
  /** Wall time not attributed to any stage (batch loop, GC between calls), ms. */
  readonly unaccountedMs: number;
  /** Share of wall time spent outside the reader encoder (everything but `encoder`), 0..1. */
  readonly outsideEncoderShare: number;
  /** Share of wall time spent outside all ONNX encoders (reader and retriever query encoding), 0..1. */
  readonly outsideModelsShare: number;
}

/**
 * Turns stage times into shares of `wallMs`. The shares of the stages plus the unaccounted time add up to 1
 * (up to rounding); a stage sum above the wall time (clock granularity) gives 0 unaccounted time.
 */
export function stageBreakdown(stageMs: Record<ReportedStage, number>, wallMs: number): StageBreakdown {
  if (!(wallMs > 0)) throw new RangeError(`wall time must be > 0 ms, got ${wallMs}`);
  const stages = {} as Record<ReportedStage, StageShare>;
  let total = 0;
  for (const stage of REPORTED_STAGES) {
    const ms = stageMs[stage];
    total += ms;
    stages[stage] = { ms: round(ms), share: round(ms / wallMs, 4) };
  }
  return {
    stages,
    unaccountedMs: round(Math.max(0, wallMs - total)),
    outsideEncoderShare: round(1 - stageMs.encoder / wallMs, 4),
    outsideModelsShare: round(1 - (stageMs.encoder + stageMs.retrievalEncode) / wallMs, 4),
  };
}
