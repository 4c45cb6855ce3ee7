/**
 * Runs an annotator over evaluation documents and scores it (see metrics.ts for the definitions).
 */
import type { IssueSummary } from '../data/issues.js';
import type { EntityKey } from '../data/registry.js';
import { relationAliases, type RelationPassage } from '../data/readers/relations.js';
import type { EvalDocument } from '../data/schema.js';
import type { AnnotateOptions, DocumentInput, RelikResult, Task, Triplet } from '../types.js';
import {
  addCounts,
  compareLinks,
  compareMentions,
  compareTriplets,
  countsByRelation,
  diffCounts,
  entityRecall,
  goldEntity,
  goldItems,
  predictedEntity,
  predictedItems,
  prf,
  relationRecall,
  type Counts,
} from './metrics.js';
import {
  Accumulator,
  documentErrors,
  perRelationReport,
  recallReport,
  type DocumentComparison,
  type DocumentErrors,
  type EvalReport,
  type ReportCounts,
} from './report.js';

/** Anything that annotates documents like `Relik.annotate`. */
export interface Annotator {
  annotate(inputs: DocumentInput[], options?: AnnotateOptions): Promise<RelikResult[]>;
}

/** Progress after each batch. */
export interface EvalProgress {
  readonly done: number;
  /** Total documents when known. */
  readonly total: number | null;
  readonly elapsedSeconds: number;
}

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  /** Dataset name for the report. */
  readonly dataset: string;
  /** What the gold annotates. */
  readonly datasetTask: Task;
  /** The bundle's task; default = datasetTask. */
  readonly bundleTask?: Task;
  readonly bundleName?: string | null;
  readonly kbSize?: number | null;
  /** How entities are compared (default `label`: KB titles). */
  readonly entityKey?: EntityKey;
  /** The dataset's relation inventory, to map model relation names/ids to gold names. */
  readonly relations?: readonly RelationPassage[];
  /** Documents per `annotate` call (default 8). */
  readonly batchSize?: number;
  /** Passed to `annotate` (task / keepNme / returnCandidates / returnWindows are set by the evaluator). */
  readonly annotateOptions?: AnnotateOptions;
  /** K values of retriever recall (default 1, 5, 10, 20, 50, 100). */
  readonly recallAt?: readonly number[];
  /** Ask for candidates and compute retriever recall (default true). */
  readonly retrieverRecall?: boolean;
  /** Keep per-document false positives / negatives (default true). */
  readonly collectErrors?: boolean;
  /** Total document count, for progress. */
  readonly total?: number;
  readonly onProgress?: (progress: EvalProgress) => void;
  /** Dataset reading issues to include in the report. */
  readonly datasetIssues?: IssueSummary;
  /**
   * Link thresholds in [0, 1) to score EL at (`metrics.linkThresholdCurve`): the documents are annotated once at
   * link threshold 0 (so `metrics.el` is that of threshold 0) and rescored at each. EL datasets only.
   */
  readonly linkThresholdSweep?: readonly number[];
}

/** The link thresholds `relik eval --link-threshold-sweep` scores: 0, 0.05, ..., 0.95. */
export const LINK_THRESHOLD_GRID: readonly number[] = Array.from({ length: 20 }, (_, i) => i / 20);

/**
 * EL InKB counts of one document at each threshold, had links less probable been NME: a pure rescoring of the
 * spans' link probabilities, the same as annotating at that threshold except in windows read in several passes.
 */
export function linkCountsAt(doc: EvalDocument, result: RelikResult, entityKey: EntityKey, thresholds: readonly number[]): Counts[] {
  const gold = goldItems(doc, entityKey).spans;
  const linked = result.spans.map((s) => ({ start: s.start, end: s.end, entity: predictedEntity(s, entityKey), score: s.score }));
  return thresholds.map((t) => diffCounts(compareLinks(gold, linked.map((s) => (s.score >= t ? s : { ...s, entity: null })))));
}

const TASKS: readonly Task[] = ['el', 're', 'cie'];
const hasEl = (t: Task): boolean => t === 'el' || t === 'cie';
const hasRe = (t: Task): boolean => t === 're' || t === 'cie';

/**
 * The task the model runs for a dataset: the bundle task, narrowed to `el` for an EL dataset. Throws a
 * RangeError when the bundle cannot produce what the dataset annotates (an RE bundle on AIDA, an EL bundle on
 * CoNLL04).
 */
export function resolveTask(datasetTask: Task, bundleTask: Task): Task {
  for (const [name, t] of [['datasetTask', datasetTask], ['bundleTask', bundleTask]] as const) {
    if (!TASKS.includes(t)) throw new RangeError(`${name} must be one of ${TASKS.join(', ')}, got ${String(t)}`);
  }
  if (datasetTask === 'el') {
    if (!hasEl(bundleTask)) throw new RangeError(`a bundle with task "${bundleTask}" cannot be evaluated on an el dataset; use an el or cie bundle`);
    return 'el';
  }
  if (datasetTask === 're' && !hasRe(bundleTask)) {
    throw new RangeError(`a bundle with task "${bundleTask}" cannot be evaluated on an re dataset; use an re or cie bundle`);
  }
  return bundleTask;
}

function checkPositiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
}

async function* batches<T>(items: Iterable<T> | AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let batch: T[] = [];
  for await (const item of items) {
    batch.push(item);
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/** The prediction for a blank document: nothing. */
function emptyResult(text: string): RelikResult {
  return { text, spans: [], triplets: [], truncation: { patchedWindows: 0, droppedCandidates: 0, truncatedCandidateTitles: 0, splitWindows: 0, droppedMentions: 0 } };
}

/**
 * Annotates a batch, passing each document's words. Blank documents are not sent (the annotator rejects empty
 * texts) and get an empty prediction. Checks that one result comes back per input.
 */
async function annotateBatch(annotator: Annotator, batch: readonly EvalDocument[], options: AnnotateOptions): Promise<RelikResult[]> {
  const sent = batch.filter((d) => d.text.trim() !== '');
  const inputs: DocumentInput[] = sent.map((d) => (d.words ? { text: d.text, words: d.words } : { text: d.text }));
  const results = inputs.length > 0 ? await annotator.annotate(inputs, options) : [];
  if (!Array.isArray(results) || results.length !== inputs.length) {
    throw new Error(`annotate returned ${Array.isArray(results) ? results.length : typeof results} results for ${inputs.length} inputs`);
  }
  let next = 0;
  return batch.map((d) => (d.text.trim() === '' ? emptyResult(d.text) : (results[next++] as RelikResult)));
}

/** Settings fixed for one evaluation run. */
interface Scoring {
  readonly runTask: Task;
  readonly datasetTask: Task;
  readonly entityKey: EntityKey;
  readonly ks: readonly number[];
  readonly recall: boolean;
  readonly normalize: (t: Pick<Triplet, 'relation' | 'relationId'>) => string;
  readonly normalizeTitle: (title: string) => string;
}

/** Compares one prediction with its gold document. */
export function compareDocument(doc: EvalDocument, result: RelikResult, s: Scoring): DocumentComparison {
  const gold = goldItems(doc, s.entityKey);
  const pred = predictedItems(result, s.entityKey, s.normalize);
  const doEl = hasEl(s.runTask) && hasEl(s.datasetTask);
  const doRe = hasRe(s.runTask) && hasRe(s.datasetTask);
  const windows = result.windows ?? [];
  const reBoundaries = doRe ? compareTriplets(gold.triplets, pred.triplets, 'boundaries') : undefined;
  const reStrict = doRe ? compareTriplets(gold.triplets, pred.triplets, 'strict') : undefined;
  return {
    mentions: compareMentions(gold.spans, pred.spans),
    ...(doEl ? { el: compareLinks(gold.spans, pred.spans) } : {}),
    ...(reBoundaries && reStrict
      ? { reBoundaries, reStrict, relBoundaries: countsByRelation(reBoundaries), relStrict: countsByRelation(reStrict) }
      : {}),
    ...(doEl && s.recall ? { entityRecall: entityRecall(gold.spans, windows, s.ks, s.entityKey) } : {}),
    ...(doRe && s.recall ? { relationRecall: relationRecall(gold.triplets, windows, s.ks, s.normalizeTitle) } : {}),
  };
}

/**
 * Annotates `documents` in batches (passing the dataset's words, so the model sees the gold tokenisation) and
 * scores the results: mention detection always; EL InKB strong matching when the dataset and the task both
 * have EL; RE boundaries/strict and per-relation scores when both have RE; retriever recall@K from the
 * returned windows. Returns a JSON-serialisable report.
 */
export async function evaluate(
  annotator: Annotator,
  documents: Iterable<EvalDocument> | AsyncIterable<EvalDocument>,
  options: EvaluateOptions,
): Promise<EvalReport> {
  const batchSize = options.batchSize ?? 8;
  checkPositiveInt('batchSize', batchSize);
  const ks = options.recallAt ?? [1, 5, 10, 20, 50, 100];
  ks.forEach((k) => checkPositiveInt('recallAt[]', k));
  const bundleTask = options.bundleTask ?? options.datasetTask;
  const runTask = resolveTask(options.datasetTask, bundleTask);
  const entityKey = options.entityKey ?? 'label';
  const aliases = relationAliases(options.relations ?? []);
  const normalizeTitle = (title: string): string => aliases.get(title) ?? title;
  const scoring: Scoring = {
    runTask,
    datasetTask: options.datasetTask,
    entityKey,
    ks,
    recall: options.retrieverRecall ?? true,
    normalize: (t) => aliases.get(t.relation) ?? aliases.get(t.relationId) ?? t.relation,
    normalizeTitle,
  };
  const sweep = options.linkThresholdSweep ?? [];
  const doEl = hasEl(runTask) && hasEl(options.datasetTask);
  if (sweep.length > 0) {
    if (!doEl) throw new RangeError(`linkThresholdSweep needs an EL dataset and an EL or cie bundle; this run is ${options.datasetTask} with task ${runTask}`);
    sweep.forEach((t, i) => {
      if (typeof t !== 'number' || !(t >= 0 && t < 1)) throw new RangeError(`linkThresholdSweep[${i}] must be a number in [0, 1), got ${String(t)}`);
    });
    const fixed = options.annotateOptions?.linkThreshold;
    if (fixed !== undefined && fixed !== 0) throw new RangeError(`linkThresholdSweep annotates at link threshold 0; remove annotateOptions.linkThreshold (${fixed})`);
  }
  const annotateOptions: AnnotateOptions = {
    ...options.annotateOptions,
    ...(runTask !== bundleTask ? { task: runTask } : {}),
    ...(sweep.length > 0 ? { linkThreshold: 0 } : {}),
    keepNme: true,
    ...(scoring.recall ? { returnCandidates: true, returnWindows: true } : {}),
  };
  const reMode = options.datasetTask === 'cie' ? 'strict' : 'boundaries';
  const acc = new Accumulator(ks);
  let sweepCounts: Counts[] = sweep.map(() => ({ tp: 0, fp: 0, fn: 0 }));
  const errors: DocumentErrors[] = [];
  const counts = {
    documents: 0, goldSpans: 0, goldLinked: 0, goldNme: 0, goldTriplets: 0, predictedSpans: 0, predictedLinked: 0,
    predictedTriplets: 0, windows: 0, patchedWindows: 0, droppedCandidates: 0, truncatedCandidateTitles: 0, splitWindows: 0,
    droppedMentions: 0,
  } satisfies Record<keyof ReportCounts, number>;
  const started = performance.now();
  const elapsed = (): number => (performance.now() - started) / 1000;

  for await (const batch of batches(documents, batchSize)) {
    const results = await annotateBatch(annotator, batch, annotateOptions);
    batch.forEach((doc, i) => {
      const result = results[i] as RelikResult;
      if (result.text !== doc.text) throw new Error(`annotate result ${i} of document "${doc.id}" has a different text than its input`);
      const c = compareDocument(doc, result, scoring);
      acc.add(c);
      if (sweep.length > 0) {
        const perThreshold = linkCountsAt(doc, result, entityKey, sweep);
        sweepCounts = sweepCounts.map((sum, k) => addCounts(sum, perThreshold[k] as Counts));
      }
      counts.documents += 1;
      counts.goldSpans += doc.spans.length;
      const linked = doc.spans.filter((s) => goldEntity(s, entityKey) !== null).length;
      counts.goldLinked += linked;
      counts.goldNme += doc.spans.length - linked;
      counts.goldTriplets += doc.triplets.length;
      counts.predictedSpans += result.spans.length;
      counts.predictedLinked += result.spans.filter((s) => predictedEntity(s, entityKey) !== null).length;
      counts.predictedTriplets += result.triplets.length;
      counts.windows += result.windows?.length ?? 0;
      counts.patchedWindows += result.truncation.patchedWindows;
      counts.droppedCandidates += result.truncation.droppedCandidates;
      counts.truncatedCandidateTitles += result.truncation.truncatedCandidateTitles;
      counts.splitWindows += result.truncation.splitWindows;
      counts.droppedMentions += result.truncation.droppedMentions ?? 0;
      if (options.collectErrors ?? true) {
        const e = documentErrors(doc.id, doc.text, c, reMode);
        if (e) errors.push(e);
      }
    });
    options.onProgress?.({ done: counts.documents, total: options.total ?? null, elapsedSeconds: elapsed() });
  }

  const doRe = hasRe(runTask) && hasRe(options.datasetTask);
  const seconds = elapsed();
  return {
    dataset: options.dataset,
    datasetTask: options.datasetTask,
    task: runTask,
    bundle: options.bundleName ?? null,
    kbSize: options.kbSize ?? null,
    entityKey,
    relationErrorMode: reMode,
    counts,
    metrics: {
      mentions: prf(acc.mentions),
      ...(doEl ? { el: prf(acc.el) } : {}),
      ...(doRe ? { re: { boundaries: prf(acc.reBoundaries), strict: prf(acc.reStrict) } } : {}),
      ...(doEl && scoring.recall && acc.entityRecall.total > 0 ? { entityRecall: recallReport(acc.entityRecall, ks) } : {}),
      ...(doRe && scoring.recall && acc.relationRecall.total > 0 ? { relationRecall: recallReport(acc.relationRecall, ks) } : {}),
      ...(sweep.length > 0 ? { linkThresholdCurve: sweep.map((threshold, k) => ({ threshold, ...prf(sweepCounts[k] as Counts) })) } : {}),
    },
    ...(doRe ? { perRelation: perRelationReport(acc.relBoundaries, acc.relStrict) } : {}),
    timing: { seconds, documentsPerSecond: seconds > 0 ? counts.documents / seconds : 0 },
    ...(options.datasetIssues ? { datasetIssues: options.datasetIssues } : {}),
    errors,
  };
}
