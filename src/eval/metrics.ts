/**
 * Pure evaluation metrics (no I/O). Every comparison uses set semantics: an item predicted twice counts once,
 * and a gold item listed twice counts once. Micro scores sum true positives, false positives and false negatives
 * over documents; an empty denominator gives 0, never NaN.
 */
import type { EntityKey } from '../data/registry.js';
import type { EvalDocument } from '../data/schema.js';
import { NME_LABEL, type AnnotatedSpan, type Candidate, type Triplet, type WindowInfo } from '../types.js';

/** True/false positive/negative counts. */
export interface Counts {
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
}

/** Counts with precision, recall and F1 (all in [0, 1]). */
export interface Prf extends Counts {
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
}

/** A mention reduced to what the metrics compare. `entity` is null for NME / no entity. */
export interface SpanItem {
  readonly start: number;
  readonly end: number;
  readonly entity: string | null;
}

/** A relation instance reduced to what the metrics compare. */
export interface TripletItem {
  readonly subject: SpanItem;
  readonly relation: string;
  readonly object: SpanItem;
}

/** Result of comparing a gold set with a predicted set. */
export interface SetDiff<T> {
  readonly matched: readonly T[];
  readonly falsePositives: readonly T[];
  readonly falseNegatives: readonly T[];
}

/** Precision, recall and F1 from counts; 0 (not NaN) when a denominator is 0. */
export function prf(counts: Counts): Prf {
  const { tp, fp, fn } = counts;
  const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
  const recall = tp + fn === 0 ? 0 : tp / (tp + fn);
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { tp, fp, fn, precision, recall, f1 };
}

/** Adds counts. */
export function addCounts(a: Counts, b: Counts): Counts {
  return { tp: a.tp + b.tp, fp: a.fp + b.fp, fn: a.fn + b.fn };
}

/** Counts of a diff. */
export function diffCounts<T>(d: SetDiff<T>): Counts {
  return { tp: d.matched.length, fp: d.falsePositives.length, fn: d.falseNegatives.length };
}

/**
 * Compares two collections as sets under `key`: duplicates (same key) count once; the first occurrence is the
 * one reported.
 */
export function compareSets<T>(gold: readonly T[], predicted: readonly T[], key: (item: T) => string): SetDiff<T> {
  const goldMap = new Map<string, T>();
  for (const g of gold) if (!goldMap.has(key(g))) goldMap.set(key(g), g);
  const predMap = new Map<string, T>();
  for (const p of predicted) if (!predMap.has(key(p))) predMap.set(key(p), p);
  const matched: T[] = [];
  const falsePositives: T[] = [];
  for (const [k, p] of predMap) (goldMap.has(k) ? matched : falsePositives).push(p);
  const falseNegatives = [...goldMap].filter(([k]) => !predMap.has(k)).map(([, g]) => g);
  return { matched, falsePositives, falseNegatives };
}

const boundaryKey = (s: SpanItem): string => `${s.start}:${s.end}`;
const linkKey = (s: SpanItem): string => `${s.start}:${s.end}:${s.entity ?? NME_LABEL}`;

/**
 * Entity linking, InKB strong matching: exact boundaries and the same entity. Gold spans without an entity
 * (NME) are excluded, and NME predictions are ignored.
 */
export function compareLinks(gold: readonly SpanItem[], predicted: readonly SpanItem[]): SetDiff<SpanItem> {
  return compareSets(
    gold.filter((s) => s.entity !== null),
    predicted.filter((s) => s.entity !== null),
    linkKey,
  );
}

/** Mention detection: boundaries only, over all gold spans (NME included) and all predicted spans. */
export function compareMentions(gold: readonly SpanItem[], predicted: readonly SpanItem[]): SetDiff<SpanItem> {
  return compareSets(gold, predicted, boundaryKey);
}

/** RE matching modes: `boundaries` = both argument boundaries + relation; `strict` adds both entity labels. */
export type RelationMode = 'boundaries' | 'strict';

/** Key of a triplet under a matching mode. */
export function tripletKey(t: TripletItem, mode: RelationMode): string {
  const arg = mode === 'strict' ? linkKey : boundaryKey;
  return `${arg(t.subject)}|${t.relation}|${arg(t.object)}`;
}

/** Relation extraction (and closed IE, with `strict`) matching of triplets. */
export function compareTriplets(
  gold: readonly TripletItem[],
  predicted: readonly TripletItem[],
  mode: RelationMode,
): SetDiff<TripletItem> {
  return compareSets(gold, predicted, (t) => tripletKey(t, mode));
}

/** Per-relation counts of a triplet diff, keyed by relation name. */
export function countsByRelation(diff: SetDiff<TripletItem>): Map<string, Counts> {
  const out = new Map<string, Counts>();
  const bump = (rel: string, field: keyof Counts): void => {
    const c = out.get(rel) ?? { tp: 0, fp: 0, fn: 0 };
    out.set(rel, { ...c, [field]: c[field] + 1 });
  };
  for (const t of diff.matched) bump(t.relation, 'tp');
  for (const t of diff.falsePositives) bump(t.relation, 'fp');
  for (const t of diff.falseNegatives) bump(t.relation, 'fn');
  return out;
}

/** Merges per-relation counts into `into` (mutates and returns it). */
export function mergeRelationCounts(into: Map<string, Counts>, add: ReadonlyMap<string, Counts>): Map<string, Counts> {
  for (const [rel, c] of add) into.set(rel, addCounts(into.get(rel) ?? { tp: 0, fp: 0, fn: 0 }, c));
  return into;
}

/** Gold entity of a span under `entityKey` (null for NME / unlabelled). */
export function goldEntity(span: { readonly label?: string; readonly id?: string }, entityKey: EntityKey): string | null {
  const v = entityKey === 'id' ? span.id : span.label;
  return v === undefined || v === NME_LABEL || v === '' ? null : v;
}

/** Predicted entity of a span under `entityKey` (null for NME). */
export function predictedEntity(span: Pick<AnnotatedSpan, 'label' | 'id'>, entityKey: EntityKey): string | null {
  if (span.label === NME_LABEL) return null;
  const v = entityKey === 'id' ? span.id : span.label;
  return v === '' ? null : v;
}

/** Gold spans and triplets of a document as metric items. */
export function goldItems(doc: EvalDocument, entityKey: EntityKey): { spans: SpanItem[]; triplets: TripletItem[] } {
  const spans = doc.spans.map((s) => ({ start: s.start, end: s.end, entity: goldEntity(s, entityKey) }));
  const triplets: TripletItem[] = [];
  for (const t of doc.triplets) {
    const subject = spans[t.subject];
    const object = spans[t.object];
    if (subject && object) triplets.push({ subject, relation: t.relation, object });
  }
  return { spans, triplets };
}

/**
 * Predicted spans and triplets as metric items. `normalizeRelation` maps a predicted relation (title, then id)
 * to the dataset's relation name (e.g. "Work for" -> "Work_For"); by default the title is used as is.
 */
export function predictedItems(
  result: { readonly spans: readonly Pick<AnnotatedSpan, 'start' | 'end' | 'label' | 'id'>[]; readonly triplets: readonly Pick<Triplet, 'subject' | 'relation' | 'relationId' | 'object'>[] },
  entityKey: EntityKey,
  normalizeRelation: (t: Pick<Triplet, 'relation' | 'relationId'>) => string = (t) => t.relation,
): { spans: SpanItem[]; triplets: TripletItem[] } {
  const spans = result.spans.map((s) => ({ start: s.start, end: s.end, entity: predictedEntity(s, entityKey) }));
  const triplets: TripletItem[] = [];
  for (const t of result.triplets) {
    const subject = spans[t.subject];
    const object = spans[t.object];
    if (!subject || !object) {
      throw new RangeError(`triplet subject/object must index result.spans (0..${spans.length - 1}), got ${t.subject}/${t.object}`);
    }
    triplets.push({ subject, relation: normalizeRelation(t), object });
  }
  return { spans, triplets };
}

/** Hits of the retriever at each K, over (window, gold item) pairs. */
export interface RecallCounts {
  readonly total: number;
  /** hits[i] = pairs whose gold is among the window's first ks[i] candidates. */
  readonly hits: readonly number[];
  /** Pairs whose gold is among all the window's candidates. */
  readonly hitsAll: number;
}

/** Adds two recall counts with the same K list. */
export function addRecall(a: RecallCounts, b: RecallCounts): RecallCounts {
  return { total: a.total + b.total, hits: a.hits.map((h, i) => h + (b.hits[i] ?? 0)), hitsAll: a.hitsAll + b.hitsAll };
}

function rankIn(candidates: readonly Candidate[], target: string, field: 'id' | 'title'): number {
  return candidates.findIndex((c) => c[field] === target);
}

function recallOver(
  pairs: Iterable<{ readonly target: string; readonly candidates: readonly Candidate[] }>,
  ks: readonly number[],
  field: 'id' | 'title',
): RecallCounts {
  let total = 0;
  let hitsAll = 0;
  const hits = ks.map(() => 0);
  for (const { target, candidates } of pairs) {
    total += 1;
    const rank = rankIn(candidates, target, field);
    if (rank < 0) continue;
    hitsAll += 1;
    ks.forEach((k, i) => {
      if (rank < k) hits[i] = (hits[i] ?? 0) + 1;
    });
  }
  return { total, hits, hitsAll };
}

const inside = (s: SpanItem, w: WindowInfo): boolean => s.start >= w.start && s.end <= w.end;

/**
 * Entity retriever recall@K: for every window and every linked gold mention inside it, whether the gold entity
 * is among the window's first K entity candidates (compared with the candidate's `id` for entityKey `id`, its
 * `title` for `label`). Windows without `entityCandidates` are skipped.
 */
export function entityRecall(
  gold: readonly SpanItem[],
  windows: readonly WindowInfo[],
  ks: readonly number[],
  entityKey: EntityKey,
): RecallCounts {
  const linked = compareSets(gold.filter((s) => s.entity !== null), [], linkKey).falseNegatives;
  const pairs: { target: string; candidates: readonly Candidate[] }[] = [];
  for (const w of windows) {
    if (!w.entityCandidates) continue;
    for (const s of linked) if (s.entity !== null && inside(s, w)) pairs.push({ target: s.entity, candidates: w.entityCandidates });
  }
  return recallOver(pairs, ks, entityKey === 'id' ? 'id' : 'title');
}

/**
 * Relation retriever recall@K: for every window and every gold triplet whose two arguments lie inside it,
 * whether the relation is among the window's first K relation candidates (by normalised title).
 */
export function relationRecall(
  gold: readonly TripletItem[],
  windows: readonly WindowInfo[],
  ks: readonly number[],
  normalize: (title: string) => string = (t) => t,
): RecallCounts {
  const unique = compareSets(gold, [], (t) => tripletKey(t, 'boundaries')).falseNegatives;
  const pairs: { target: string; candidates: readonly Candidate[] }[] = [];
  for (const w of windows) {
    if (!w.relationCandidates) continue;
    const cands = w.relationCandidates.map((c) => ({ ...c, title: normalize(c.title) }));
    for (const t of unique) if (inside(t.subject, w) && inside(t.object, w)) pairs.push({ target: t.relation, candidates: cands });
  }
  return recallOver(pairs, ks, 'title');
}
