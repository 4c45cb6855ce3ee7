import { NME_LABEL, type AnnotatedSpan, type Candidate, type Triplet, type Word } from '../types.js';

/** A span predicted in some window pass, in document word indices [firstWord, lastWord]. */
export interface WindowSpan {
  readonly firstWord: number;
  readonly lastWord: number;
  /** Linked entity, or null for NME / unlinked (RE). */
  readonly entity: Candidate | null;
  readonly score: number;
  /** NME by the link threshold only: the entity that was most probable, and its probability. */
  readonly belowThreshold?: { readonly entity: Candidate; readonly score: number };
}

export interface WindowTriplet {
  readonly subject: readonly [number, number];
  readonly object: readonly [number, number];
  readonly relation: Candidate;
  readonly score: number;
}

export interface MergedPredictions {
  readonly spans: AnnotatedSpan[];
  readonly triplets: Triplet[];
}

const key = (firstWord: number, lastWord: number): string => `${firstWord}:${lastWord}`;

/** How strongly an NME span was nearly linked: its lost link's probability, -1 when it lost none. */
export function lostLinkScore(span: WindowSpan): number {
  return span.belowThreshold?.score ?? -1;
}

/**
 * Prefer a linked entity over NME, then (both NME) the one nearest to a link, then the higher score: the same span
 * read in overlapping windows.
 */
function better(a: WindowSpan, b: WindowSpan): WindowSpan {
  if ((a.entity === null) !== (b.entity === null)) return a.entity !== null ? a : b;
  if (a.entity === null && lostLinkScore(a) !== lostLinkScore(b)) return lostLinkScore(b) > lostLinkScore(a) ? b : a;
  return b.score > a.score ? b : a;
}

/**
 * The `perPair` most probable relations of each ordered (subject, object) pair (ties: relation id order), all
 * when `perPair` is 0. Thresholding and this cap commute: both keep the higher scores.
 */
export function capRelationsPerPair<T extends WindowTriplet>(triplets: readonly T[], perPair: number): T[] {
  if (perPair === 0) return [...triplets];
  const byPair = new Map<string, T[]>();
  for (const t of triplets) {
    const k = `${key(...t.subject)}|${key(...t.object)}`;
    const list = byPair.get(k);
    if (list === undefined) byPair.set(k, [t]);
    else list.push(t);
  }
  const kept = new Set<T>();
  for (const list of byPair.values()) {
    list.sort((a, b) => b.score - a.score || (a.relation.id < b.relation.id ? -1 : a.relation.id > b.relation.id ? 1 : 0));
    for (const t of list.slice(0, perPair)) kept.add(t);
  }
  return triplets.filter((t) => kept.has(t));
}

/**
 * Merges the predictions of all windows (and patches) of one document into character-offset spans and
 * triplets. One span per boundary pair; one triplet per (subject, relation, object), with its best score.
 * Output order is deterministic: spans by (start, end), triplets by (subject, object, relation).
 * NME spans are dropped unless `keepNme` or a kept triplet refers to them. `relationsPerPair` > 0 keeps only
 * that many relations per ordered pair ({@link capRelationsPerPair}). O(n log n).
 */
export function mergeWindowPredictions(
  text: string,
  words: readonly Word[],
  spans: readonly WindowSpan[],
  triplets: readonly WindowTriplet[],
  keepNme: boolean,
  relationsPerPair = 0,
): MergedPredictions {
  const bestSpan = new Map<string, WindowSpan>();
  for (const span of spans) {
    const k = key(span.firstWord, span.lastWord);
    const seen = bestSpan.get(k);
    bestSpan.set(k, seen === undefined ? span : better(seen, span));
  }
  const bestTriplet = new Map<string, WindowTriplet>();
  for (const triplet of triplets) {
    const k = `${key(...triplet.subject)}|${triplet.relation.id}|${key(...triplet.object)}`;
    const seen = bestTriplet.get(k);
    if (seen === undefined || triplet.score > seen.score) bestTriplet.set(k, triplet);
  }
  const keptTriplets = capRelationsPerPair([...bestTriplet.values()], relationsPerPair);
  const inTriplets = new Set<string>();
  for (const t of keptTriplets) {
    inTriplets.add(key(...t.subject));
    inTriplets.add(key(...t.object));
  }

  const kept = [...bestSpan.entries()]
    .filter(([k, span]) => keepNme || span.entity !== null || inTriplets.has(k))
    .map(([k, span]) => {
      const start = (words[span.firstWord] as Word).start;
      const end = (words[span.lastWord] as Word).end;
      const annotated: AnnotatedSpan = {
        start,
        end,
        text: text.slice(start, end),
        label: span.entity?.title ?? NME_LABEL,
        id: span.entity?.id ?? null,
        score: span.score,
        ...(span.entity === null && span.belowThreshold !== undefined
          ? { belowThreshold: { id: span.belowThreshold.entity.id, label: span.belowThreshold.entity.title, score: span.belowThreshold.score } }
          : {}),
      };
      return { k, annotated };
    })
    .sort((a, b) => a.annotated.start - b.annotated.start || a.annotated.end - b.annotated.end);

  const indexOf = new Map(kept.map((entry, i) => [entry.k, i]));
  const mergedTriplets: Triplet[] = [];
  for (const t of keptTriplets) {
    const subject = indexOf.get(key(...t.subject));
    const object = indexOf.get(key(...t.object));
    if (subject === undefined || object === undefined) continue;
    mergedTriplets.push({ subject, relation: t.relation.title, relationId: t.relation.id, object, score: t.score });
  }
  mergedTriplets.sort((a, b) => a.subject - b.subject || a.object - b.object || a.relation.localeCompare(b.relation));
  return { spans: kept.map((entry) => entry.annotated), triplets: mergedTriplets };
}
