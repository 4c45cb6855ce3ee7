/**
 * The JSON-serialisable evaluation report and its accumulation from per-document comparisons.
 */
import type { EntityKey } from '../data/registry.js';
import type { IssueSummary } from '../data/issues.js';
import type { Task } from '../types.js';
import {
  addCounts,
  addRecall,
  diffCounts,
  mergeRelationCounts,
  prf,
  type Counts,
  type Prf,
  type RecallCounts,
  type SetDiff,
  type SpanItem,
  type TripletItem,
} from './metrics.js';

/** Retriever recall at several K. */
export interface RecallReport {
  /** (window, gold) pairs considered. */
  readonly total: number;
  /** Recall at K, keyed by K. */
  readonly at: Readonly<Record<string, number>>;
  /** Recall over all of each window's candidates. */
  readonly all: number;
}

/** Dataset and prediction counts. */
export interface ReportCounts {
  readonly documents: number;
  readonly goldSpans: number;
  readonly goldLinked: number;
  readonly goldNme: number;
  readonly goldTriplets: number;
  readonly predictedSpans: number;
  readonly predictedLinked: number;
  readonly predictedTriplets: number;
  readonly windows: number;
  readonly patchedWindows: number;
  readonly droppedCandidates: number;
  readonly truncatedCandidateTitles: number;
  readonly splitWindows: number;
  readonly droppedMentions: number;
}

/** All scores. Present only for what the dataset and the bundle task support. */
export interface ReportMetrics {
  readonly mentions: Prf;
  readonly el?: Prf;
  readonly re?: { readonly boundaries: Prf; readonly strict: Prf };
  readonly entityRecall?: RecallReport;
  readonly relationRecall?: RecallReport;
  /**
   * EL InKB scores had links less probable than each threshold been NME (rescored from one pass at link
   * threshold 0), lowest threshold first; only when asked for (`linkThresholdSweep`).
   */
  readonly linkThresholdCurve?: readonly (Prf & { readonly threshold: number })[];
}

/** A span in the error listing. */
export interface ErrorSpan {
  readonly start: number;
  readonly end: number;
  readonly text: string;
  readonly entity: string | null;
}

/** A triplet in the error listing. */
export interface ErrorTriplet {
  readonly subject: ErrorSpan;
  readonly relation: string;
  readonly object: ErrorSpan;
}

/** False positives / negatives of one document. */
export interface DocumentErrors {
  readonly id: string;
  readonly mentions?: { readonly falsePositives: ErrorSpan[]; readonly falseNegatives: ErrorSpan[] };
  readonly el?: { readonly falsePositives: ErrorSpan[]; readonly falseNegatives: ErrorSpan[] };
  /** Using the report's `relationErrorMode`. */
  readonly re?: { readonly falsePositives: ErrorTriplet[]; readonly falseNegatives: ErrorTriplet[] };
}

/** The evaluation report (plain JSON). */
export interface EvalReport {
  readonly dataset: string;
  /** What the gold annotates. */
  readonly datasetTask: Task;
  /** What the model was asked to do. */
  readonly task: Task;
  readonly bundle: string | null;
  readonly kbSize: number | null;
  readonly entityKey: EntityKey;
  readonly relationErrorMode: 'boundaries' | 'strict';
  readonly counts: ReportCounts;
  readonly metrics: ReportMetrics;
  /** Per-relation scores, sorted by gold frequency. */
  readonly perRelation?: Readonly<Record<string, { readonly boundaries: Prf; readonly strict: Prf; readonly gold: number }>>;
  readonly timing: { readonly seconds: number; readonly documentsPerSecond: number };
  readonly datasetIssues?: IssueSummary;
  /** Documents with at least one error (empty when errors were not collected). */
  readonly errors: readonly DocumentErrors[];
}

/** What one document contributes. */
export interface DocumentComparison {
  readonly mentions: SetDiff<SpanItem>;
  readonly el?: SetDiff<SpanItem>;
  readonly reBoundaries?: SetDiff<TripletItem>;
  readonly reStrict?: SetDiff<TripletItem>;
  readonly relBoundaries?: ReadonlyMap<string, Counts>;
  readonly relStrict?: ReadonlyMap<string, Counts>;
  readonly entityRecall?: RecallCounts;
  readonly relationRecall?: RecallCounts;
}

const ZERO: Counts = { tp: 0, fp: 0, fn: 0 };

/** Mutable running totals (internal to the evaluator, exported for tests). */
export class Accumulator {
  mentions: Counts = ZERO;
  el: Counts = ZERO;
  reBoundaries: Counts = ZERO;
  reStrict: Counts = ZERO;
  relBoundaries = new Map<string, Counts>();
  relStrict = new Map<string, Counts>();
  entityRecall: RecallCounts;
  relationRecall: RecallCounts;

  constructor(readonly ks: readonly number[]) {
    const empty = { total: 0, hits: ks.map(() => 0), hitsAll: 0 };
    this.entityRecall = empty;
    this.relationRecall = empty;
  }

  /** Adds one document. */
  add(c: DocumentComparison): void {
    this.mentions = addCounts(this.mentions, diffCounts(c.mentions));
    if (c.el) this.el = addCounts(this.el, diffCounts(c.el));
    if (c.reBoundaries) this.reBoundaries = addCounts(this.reBoundaries, diffCounts(c.reBoundaries));
    if (c.reStrict) this.reStrict = addCounts(this.reStrict, diffCounts(c.reStrict));
    if (c.relBoundaries) mergeRelationCounts(this.relBoundaries, c.relBoundaries);
    if (c.relStrict) mergeRelationCounts(this.relStrict, c.relStrict);
    if (c.entityRecall) this.entityRecall = addRecall(this.entityRecall, c.entityRecall);
    if (c.relationRecall) this.relationRecall = addRecall(this.relationRecall, c.relationRecall);
  }
}

/** Turns recall counts into rates. */
export function recallReport(r: RecallCounts, ks: readonly number[]): RecallReport {
  const rate = (h: number): number => (r.total === 0 ? 0 : h / r.total);
  return { total: r.total, at: Object.fromEntries(ks.map((k, i) => [String(k), rate(r.hits[i] ?? 0)])), all: rate(r.hitsAll) };
}

/** Per-relation scores from the accumulated counts, most frequent gold relation first. */
export function perRelationReport(
  boundaries: ReadonlyMap<string, Counts>,
  strict: ReadonlyMap<string, Counts>,
): Record<string, { boundaries: Prf; strict: Prf; gold: number }> {
  const names = [...new Set([...boundaries.keys(), ...strict.keys()])];
  const gold = (n: string): number => {
    const c = boundaries.get(n) ?? ZERO;
    return c.tp + c.fn;
  };
  names.sort((a, b) => gold(b) - gold(a) || a.localeCompare(b));
  return Object.fromEntries(
    names.map((n) => [n, { boundaries: prf(boundaries.get(n) ?? ZERO), strict: prf(strict.get(n) ?? ZERO), gold: gold(n) }]),
  );
}

/** Converts span items to error entries with their text. */
export function errorSpans(text: string, items: readonly SpanItem[]): ErrorSpan[] {
  return items.map((s) => ({ start: s.start, end: s.end, text: text.slice(s.start, s.end), entity: s.entity }));
}

/** Converts triplet items to error entries with their argument texts. */
export function errorTriplets(text: string, items: readonly TripletItem[]): ErrorTriplet[] {
  return items.map((t) => {
    const [subject, object] = errorSpans(text, [t.subject, t.object]) as [ErrorSpan, ErrorSpan];
    return { subject, relation: t.relation, object };
  });
}

/** The error entry of a document, or null when it has no error. */
export function documentErrors(id: string, text: string, c: DocumentComparison, reMode: 'boundaries' | 'strict'): DocumentErrors | null {
  const fpFn = <T, U>(d: SetDiff<T> | undefined, conv: (text: string, items: readonly T[]) => U[]) =>
    d && (d.falsePositives.length > 0 || d.falseNegatives.length > 0)
      ? { falsePositives: conv(text, d.falsePositives), falseNegatives: conv(text, d.falseNegatives) }
      : undefined;
  const mentions = fpFn(c.mentions, errorSpans);
  const el = fpFn(c.el, errorSpans);
  const re = fpFn(reMode === 'strict' ? c.reStrict : c.reBoundaries, errorTriplets);
  if (!mentions && !el && !re) return null;
  return { id, ...(mentions ? { mentions } : {}), ...(el ? { el } : {}), ...(re ? { re } : {}) };
}
