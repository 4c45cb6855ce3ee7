import type { BundleManifest } from '../bundle/manifest.js';
import type { DocumentNames } from '../index/aliases.js';
import type { ResolvedOptions, PreparedDocument } from '../options.js';
import { decodePass, type PassMention } from '../reader/decode.js';
import { buildReaderPasses, windowTextLength, type ReaderPass } from '../reader/input.js';
import type { Reader } from '../reader/reader.js';
import type { Candidate, GivenMention, RelikResult, Task, WindowInfo, Word } from '../types.js';
import type { CandidateSource, ReaderCandidate } from './candidates.js';
import { lostLinkScore, mergeWindowPredictions, type WindowSpan, type WindowTriplet } from './merge.js';
import type { RetrievalQuery } from './retriever.js';
import { documentWindows, type WordWindow } from './windows.js';

/** Pipeline stages timed by {@link StageTimings} (`retrieval` covers query encoding and index search). */
export type PipelineStage = 'windows' | 'retrieval' | 'readerInput' | 'encoder' | 'heads' | 'merge';

/** Work counters reported to {@link StageTimings}. */
export type PipelineCounter = 'windows' | 'passes' | 'readerTokens';

/**
 * Optional per-stage timing collector for {@link annotateDocuments} (used by `relik bench`). When it is not given,
 * the pipeline reads no clock and counts nothing.
 */
export interface StageTimings {
  /** Adds `ms` milliseconds of wall time to `stage`. */
  add(stage: PipelineStage, ms: number): void;
  /** Adds `n` to a work counter. */
  count(counter: PipelineCounter, n: number): void;
}

/** Adds the time since `since` to `stage` and returns the current time. */
function lap(timings: StageTimings, stage: PipelineStage, since: number): number {
  const now = performance.now();
  timings.add(stage, now - since);
  return now;
}

export interface PipelineParts {
  readonly manifest: BundleManifest;
  readonly reader: Reader;
  readonly entities: CandidateSource | null;
  readonly relations: CandidateSource | null;
}

/** A window of one document, with everything the reader needs. */
interface DocumentWindow extends WordWindow {
  readonly document: number;
  readonly wordIds: readonly (readonly number[])[];
  /** Given mentions inside the window, window-relative [firstWord, lastWord]. */
  readonly givenMentions?: readonly (readonly [number, number])[];
}

interface DocumentCounters {
  patchedWindows: number;
  droppedCandidates: number;
  truncatedCandidateTitles: number;
  splitWindows: number;
  droppedMentions: number;
}

/** Reader passes run and decoded together; bounds memory for long documents (features are ~1-3 MB per pass). */
const PASSES_PER_CHUNK = 256;

/** Longest window text the reader can take while leaving room for the NME slot and one candidate. */
function windowTextBudget(parts: PipelineParts, task: Task, relationSection: number): number {
  const { maxLength, maxCandidateTokens } = parts.manifest.reader;
  const oneCandidate = 1 + maxCandidateTokens;
  const reserve = task === 'el' ? 2 + oneCandidate : task === 're' ? 1 + oneCandidate : 3 + relationSection + oneCandidate;
  return maxLength - reserve;
}

/** Splits a window in halves until its text fits the reader budget (never drops words). */
function fitWindow(window: WordWindow, wordIds: readonly (readonly number[])[], budget: number, counters: DocumentCounters): WordWindow[] {
  const slice = wordIds.slice(window.firstWord, window.endWord);
  if (windowTextLength(slice) <= budget || window.endWord - window.firstWord === 1) return [window];
  counters.splitWindows += 1;
  const middle = window.firstWord + Math.floor((window.endWord - window.firstWord) / 2);
  return [
    ...fitWindow({ firstWord: window.firstWord, endWord: middle }, wordIds, budget, counters),
    ...fitWindow({ firstWord: middle, endWord: window.endWord }, wordIds, budget, counters),
  ];
}

/** Word ranges [first, last] of given mentions; mentions that cover no word are counted and skipped. */
function mentionWordRanges(words: readonly Word[], mentions: readonly GivenMention[], counters: DocumentCounters): [number, number][] {
  const byStart = new Map(words.map((w, i) => [w.start, i]));
  const byEnd = new Map(words.map((w, i) => [w.end, i]));
  const ranges: [number, number][] = [];
  for (const m of mentions) {
    // Mentions may carry surrounding spaces: snap to the words inside.
    let first = byStart.get(m.start);
    let last = byEnd.get(m.end);
    if (first === undefined) first = words.findIndex((w) => w.start >= m.start && w.end <= m.end);
    if (last === undefined) last = findLastIndex(words, (w) => w.start >= m.start && w.end <= m.end);
    if (first === -1 || last === -1 || last < first) counters.droppedMentions += 1;
    else ranges.push([first, last]);
  }
  return ranges;
}

function findLastIndex<T>(items: readonly T[], predicate: (item: T) => boolean): number {
  for (let i = items.length - 1; i >= 0; i--) if (predicate(items[i] as T)) return i;
  return -1;
}

/**
 * Runs retrieval, reading, decoding and merging for a batch of prepared documents. `timings`, when given,
 * receives the wall time of each stage and the window, pass and reader-token counts.
 */
export async function annotateDocuments(
  parts: PipelineParts,
  documents: readonly PreparedDocument[],
  options: ResolvedOptions,
  timings?: StageTimings,
): Promise<RelikResult[]> {
  const { reader, manifest } = parts;
  let clock = timings === undefined ? 0 : performance.now();
  const task = options.task;
  const usesEntities = task !== 're';
  const usesRelations = task !== 'el';
  const counters: DocumentCounters[] = documents.map(() => ({ patchedWindows: 0, droppedCandidates: 0, truncatedCandidateTitles: 0, splitWindows: 0, droppedMentions: 0 }));

  // Fixed relation candidates (given, or a closed set without retriever) are known before windowing.
  const fixedRelations: ReaderCandidate[] | null = !usesRelations
    ? []
    : options.relationCandidates !== undefined && parts.relations !== null
      ? parts.relations.given(options.relationCandidates)
      : parts.relations !== null && parts.relations.retriever === null
        ? (await parts.relations.candidatesFor([{ words: [] }], options.relationTopK))[0] ?? []
        : null;
  const relationSection =
    fixedRelations === null
      ? options.relationTopK * (1 + manifest.reader.maxCandidateTokens)
      : fixedRelations.slice(0, manifest.reader.relationMarkers).reduce((sum, c) => sum + 1 + c.tokenIds.length, 0);
  const budget = windowTextBudget(parts, task, relationSection);
  if (timings !== undefined) clock = lap(timings, 'retrieval', clock);

  // 1. Windows (split further when the text alone would not fit the reader).
  const windows: DocumentWindow[] = [];
  documents.forEach((doc, d) => {
    const counter = counters[d] as DocumentCounters;
    const wordIds = doc.words.map((w) => reader.tokenizer.encodeWord(w.text));
    const mentions = options.mentions?.[d];
    const ranges = mentions === undefined ? undefined : mentionWordRanges(doc.words, mentions, counter);
    const covered = new Set<readonly [number, number]>();
    for (const base of documentWindows(doc.words, options.windowStrategy, options.windowSize, options.windowStride)) {
      for (const window of fitWindow(base, wordIds, budget, counter)) {
        const inside = ranges?.filter(([first, last]) => first >= window.firstWord && last < window.endWord);
        for (const range of inside ?? []) covered.add(range);
        windows.push({
          ...window,
          document: d,
          wordIds: wordIds.slice(window.firstWord, window.endWord),
          ...(inside === undefined ? {} : { givenMentions: inside.map(([f, l]) => [f - window.firstWord, l - window.firstWord] as const) }),
        });
      }
    }
    if (ranges !== undefined) counter.droppedMentions += ranges.length - covered.size;
  });

  if (timings !== undefined) {
    timings.count('windows', windows.length);
    clock = lap(timings, 'windows', clock);
  }

  // 2. Candidates.
  const nameTable = usesEntities && (options.aliasTopK > 0 || options.aliasPriorWeight > 0) ? (parts.entities?.aliases ?? null) : null;
  const documentNames = documents.map((doc) => nameTable?.documentNames(doc.words.map((x) => x.text)));
  const queries: RetrievalQuery[] = windows.map((w) => {
    const doc = documents[w.document] as PreparedDocument;
    const words = doc.words.slice(w.firstWord, w.endWord).map((x) => x.text);
    const topic = options.useDocTopic ? doc.words[0]?.text : undefined;
    const names = documentNames[w.document];
    return { words, ...(topic === undefined ? {} : { topic }), ...(names === undefined || names.size === 0 ? {} : { documentNames: names }) };
  });
  const entityCandidates: ReaderCandidate[][] = !usesEntities || parts.entities === null
    ? windows.map(() => [])
    : options.entityCandidates !== undefined
      ? windows.map(() => (parts.entities as CandidateSource).given(options.entityCandidates ?? []))
      : await parts.entities.candidatesFor(queries, options.topK, options.aliasTopK);
  const relationCandidates: ReaderCandidate[][] = fixedRelations !== null
    ? windows.map(() => fixedRelations)
    : await (parts.relations as CandidateSource).candidatesFor(queries, options.relationTopK);

  if (timings !== undefined) clock = lap(timings, 'retrieval', clock);

  // 3. Reader passes.
  const passes: { window: number; pass: ReaderPass }[] = [];
  const passCount = new Array<number>(windows.length).fill(0);
  windows.forEach((window, w) => {
    const counter = counters[window.document] as DocumentCounters;
    const ents = entityCandidates[w] as ReaderCandidate[];
    const rels = relationCandidates[w] as ReaderCandidate[];
    counter.truncatedCandidateTitles += ents.filter((c) => c.titleTruncated).length + rels.filter((c) => c.titleTruncated).length;
    const built = buildReaderPasses(
      { task, wordIds: window.wordIds, entityCandidates: ents.map((c) => c.tokenIds), relationCandidates: rels.map((c) => c.tokenIds) },
      reader.vocabulary,
      { maxLength: manifest.reader.maxLength },
    );
    counter.droppedCandidates += built.dropped;
    if (built.passes.length > 1) counter.patchedWindows += 1;
    for (const pass of built.passes) passes.push({ window: w, pass });
    passCount[w] = built.passes.length;
  });

  if (timings !== undefined) {
    timings.count('passes', passes.length);
    timings.count('readerTokens', passes.reduce((sum, p) => sum + p.pass.inputIds.length, 0));
    clock = lap(timings, 'readerInput', clock);
  }

  // 4. Read and decode, a chunk of passes at a time: reader features are large (length x features floats per
  // pass), so a long document must not hold all of them at once. Chunks keep pass order (patch order matters).
  const linkBonus = usesEntities && options.aliasPriorWeight > 0 && parts.entities !== null && parts.entities.aliases !== null
    ? namePriorBonus(parts.entities, documents, documentNames, options.aliasPriorWeight)
    : null;
  const windowSpans: (Map<string, WindowSpan> | undefined)[] = new Array(windows.length);
  const triplets: WindowTriplet[][] = documents.map(() => []);
  for (let first = 0; first < passes.length; first += PASSES_PER_CHUNK) {
    const chunk = passes.slice(first, first + PASSES_PER_CHUNK);
    const outputs = await reader.run(chunk.map((p) => p.pass));
    if (timings !== undefined) clock = lap(timings, 'encoder', clock);
    chunk.forEach(({ window: w, pass }, p) => {
      const window = windows[w] as DocumentWindow;
      const ents = entityCandidates[w] as ReaderCandidate[];
      const rels = relationCandidates[w] as ReaderCandidate[];
      const prediction = decodePass(pass, outputs[p] as NonNullable<(typeof outputs)[number]>, reader.heads, {
        endsPerStart: manifest.reader.endsPerStart,
        relationThreshold: options.relationThreshold,
        linkEntities: usesEntities,
        linkThreshold: options.linkThreshold,
        extractRelations: usesRelations,
        ...(window.givenMentions === undefined ? {} : { givenMentions: window.givenMentions }),
        ...(linkBonus === null ? {} : { linkBonus: linkBonus(window, ents) }),
      });
      const bounds = prediction.mentions.map((m) => [window.firstWord + m.firstWord, window.firstWord + m.lastWord] as const);
      const patchSpans = (windowSpans[w] ??= new Map<string, WindowSpan>());
      prediction.mentions.forEach((m, i) => {
        const entity: Candidate | null = m.candidate < 0 ? null : toCandidate(ents[m.candidate] as ReaderCandidate);
        const below = m.belowThreshold === undefined ? {} : { belowThreshold: { entity: toCandidate(ents[m.belowThreshold.candidate] as ReaderCandidate), score: m.belowThreshold.score } };
        const [firstWord, lastWord] = bounds[i] as readonly [number, number];
        // Within a window, patches come in retrieval-rank order: a span keeps the first linked entity it gets (while
        // NME, the most probable link the threshold took from it).
        const key = `${firstWord}:${lastWord}`;
        const seen = patchSpans.get(key);
        const span: WindowSpan = { firstWord, lastWord, entity, score: m.linkScore, ...below };
        if (seen === undefined || (seen.entity === null && (entity !== null || lostLinkScore(span) > lostLinkScore(seen)))) patchSpans.set(key, span);
      });
      for (const t of prediction.triplets) {
        (triplets[window.document] as WindowTriplet[]).push({
          subject: bounds[t.subject] as readonly [number, number],
          object: bounds[t.object] as readonly [number, number],
          relation: toCandidate(rels[t.relation] as ReaderCandidate),
          score: t.score,
        });
      }
    });
    if (timings !== undefined) clock = lap(timings, 'heads', clock);
  }

  // 5. Merge per document: windows overlap, so the same span can come from several of them.
  const spans: WindowSpan[][] = documents.map(() => []);
  windowSpans.forEach((found, w) => {
    if (found !== undefined) (spans[(windows[w] as DocumentWindow).document] as WindowSpan[]).push(...found.values());
  });
  const results = documents.map((doc, d): RelikResult => {
    const merged = mergeWindowPredictions(doc.text, doc.words, spans[d] as WindowSpan[], triplets[d] as WindowTriplet[], options.keepNme, options.relationsPerPair);
    const { patchedWindows, droppedCandidates, truncatedCandidateTitles, splitWindows, droppedMentions } = counters[d] as DocumentCounters;
    const result: RelikResult = {
      text: doc.text,
      spans: merged.spans,
      triplets: merged.triplets,
      truncation: { patchedWindows, droppedCandidates, truncatedCandidateTitles, splitWindows, droppedMentions },
    };
    if (!options.returnWindows && !options.returnCandidates) return result;
    const infos: WindowInfo[] = [];
    windows.forEach((window, w) => {
      if (window.document !== d) return;
      const first = doc.words[window.firstWord] as Word;
      const last = doc.words[window.endWord - 1] as Word;
      infos.push({
        firstWord: window.firstWord,
        endWord: window.endWord,
        start: first.start,
        end: last.end,
        passes: passCount[w] as number,
        ...(options.returnCandidates && usesEntities ? { entityCandidates: (entityCandidates[w] as ReaderCandidate[]).map(toCandidate) } : {}),
        ...(options.returnCandidates && usesRelations ? { relationCandidates: (relationCandidates[w] as ReaderCandidate[]).map(toCandidate) } : {}),
      });
    });
    return { ...result, windows: infos };
  });
  if (timings !== undefined) lap(timings, 'merge', clock);
  return results;
}

/** Floor of p(entity | mention text) for candidates the mention's name does not point to. */
const PRIOR_FLOOR = 0.01;
/**
 * p(NME | mention text) when the text names KB entries: chosen on AIDA testa among 0.01, 0.05, 0.1, 0.2 (EL F1
 * 74.8, 75.2, 75.2, 74.8; 72.25 when only the reader decided NME).
 */
const NME_PRIOR = 0.1;

/**
 * How much the window's context moves p(entity | mention text) among the window's candidates: chosen on AIDA testa
 * among 0.1, 0.3, 0.5, 1, 3 (EL F1 78.90, 78.97, 79.06, 79.03, 78.67; 78.69 without), conll04:dev unchanged.
 */
export const CONTEXT_PRIOR_BETA = 0.5;

/**
 * p(entity | mention text, window): the name's priors of the window's candidates reweighted by
 * exp(beta x retriever score) of each candidate for the window, their total kept (the name's other entries keep
 * theirs). A country's name in a football table then leans to its national team, which the window's query scores
 * above the country, though the name alone points at the country. Candidates without a score change nothing.
 */
export function contextPriors(priors: ReadonlyMap<string, number>, candidates: readonly { readonly id: string; readonly score: number }[], beta: number): ReadonlyMap<string, number> {
  const scored = candidates.filter((c) => priors.has(c.id) && Number.isFinite(c.score));
  if (beta <= 0 || scored.length < 2) return priors;
  const top = Math.max(...scored.map((c) => c.score));
  const weights = scored.map((c) => (priors.get(c.id) as number) * Math.exp(beta * (c.score - top)));
  const total = weights.reduce((sum, w) => sum + w, 0);
  if (total <= 0) return priors;
  const mass = scored.reduce((sum, c) => sum + (priors.get(c.id) as number), 0);
  const out = new Map(priors);
  scored.forEach((c, i) => out.set(c.id, ((weights[i] as number) / total) * mass));
  return out;
}

/**
 * Link bonus `weight x log(p(entity | mention text) / p(best entity | mention text))` from the KB's names (made
 * context-aware among the window's candidates by {@link contextPriors}),
 * per window: 0 for the name's most likely entity and for mentions whose text names nothing in the KB; the NME
 * slot counts as an entity of prior {@link NME_PRIOR}, so a text that names KB entries is less often NME.
 */
function namePriorBonus(source: CandidateSource, documents: readonly PreparedDocument[], documentNames: readonly (DocumentNames | undefined)[], weight: number) {
  return (window: DocumentWindow, candidates: readonly ReaderCandidate[]) => {
    // Decoding asks for every slot of one mention in a row: look its name up once.
    let last: { mention: PassMention; priors: ReadonlyMap<string, number> | null; best: number } | undefined;
    return (mention: PassMention, candidate: number): number => {
      if (last?.mention !== mention) {
        const words = (documents[window.document] as PreparedDocument).words
          .slice(window.firstWord + mention.firstWord, window.firstWord + mention.lastWord + 1)
          .map((w) => w.text);
        const named = source.namePriors(words, documentNames[window.document]);
        const priors = named === null ? null : contextPriors(named, candidates, CONTEXT_PRIOR_BETA);
        last = { mention, priors, best: priors === null ? 0 : Math.max(...priors.values()) };
      }
      const { priors, best } = last;
      if (priors === null) return 0;
      if (candidate < 0) return weight * Math.log(NME_PRIOR / (best + PRIOR_FLOOR));
      const id = candidates[candidate]?.id;
      return id === undefined ? 0 : weight * Math.log(((priors.get(id) ?? 0) + PRIOR_FLOOR) / (best + PRIOR_FLOOR));
    };
  };
}

function toCandidate(c: ReaderCandidate): Candidate {
  return { id: c.id, title: c.title, score: c.score };
}
