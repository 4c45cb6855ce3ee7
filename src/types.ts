/**
 * Public data types of the ReLiK-TS library: what `Relik.annotate` returns and accepts.
 *
 * Offsets everywhere are UTF-16 code-unit offsets into the input string (JavaScript string indices),
 * `end` exclusive, so `text.slice(span.start, span.end) === span.text` always holds.
 */

/** Which heads the reader runs. */
export type Task = 'el' | 're' | 'cie';

/** Label used for mentions that the reader found but could not link to any KB entry ("not in the KB"). */
export const NME_LABEL = '--NME--';

/** A word of the input with its character offsets (UTF-16 units). */
export interface Word {
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

/** A KB entry or relation type proposed by the retriever (or given by the caller). */
export interface Candidate {
  /** Stable id from the index's passages.jsonl (or the caller's id). */
  readonly id: string;
  /** What the reader sees. */
  readonly title: string;
  /** Retriever inner-product score; NaN when the candidate was given, not retrieved. */
  readonly score: number;
}

/** One linked (or NME) mention. */
export interface AnnotatedSpan {
  readonly start: number;
  readonly end: number;
  readonly text: string;
  /** KB title, or `--NME--` when no candidate fits (RE-only bundles always give `--NME--`). */
  readonly label: string;
  /** KB id, or null for NME. */
  readonly id: string | null;
  /** Confidence in [0,1]: P(entity | mention) for EL/cIE (P(NME | mention) for NME), P(start)·P(end|start) for RE. */
  readonly score: number;
  /**
   * Only on NME spans that the link threshold made NME: the entity the mention would link to without it (KB id,
   * title) and P(entity | mention), below the threshold.
   */
  readonly belowThreshold?: { readonly id: string; readonly label: string; readonly score: number };
}

/** A relation between two spans of the same result. */
export interface Triplet {
  /** Index into `RelikResult.spans`. */
  readonly subject: number;
  /** Relation title (e.g. "Work_For"). */
  readonly relation: string;
  /** Relation id from the relation index. */
  readonly relationId: string;
  /** Index into `RelikResult.spans`. */
  readonly object: number;
  readonly score: number;
}

/** Per-window details, returned only with `returnWindows: true`. */
export interface WindowInfo {
  /** Word range [firstWord, endWord) of the document. */
  readonly firstWord: number;
  readonly endWord: number;
  readonly start: number;
  readonly end: number;
  readonly entityCandidates?: readonly Candidate[];
  readonly relationCandidates?: readonly Candidate[];
  /** Number of reader forward passes this window needed (1 + patches). */
  readonly passes: number;
}

/** What the pipeline had to cut or could not use. Empty arrays/zeros mean nothing was lost. */
export interface TruncationReport {
  /** Windows whose candidates were split into several reader passes ("patches"). */
  readonly patchedWindows: number;
  /** Candidates dropped because not even one fits beside the window text, or beyond the marker limit. */
  readonly droppedCandidates: number;
  /** Candidate titles cut to the bundle's `maxCandidateTokens`. */
  readonly truncatedCandidateTitles: number;
  /** Windows whose text alone exceeded the reader length and were split into shorter windows. */
  readonly splitWindows: number;
  /** Given mentions that cover no word or fit in no window. */
  readonly droppedMentions: number;
}

export interface RelikResult {
  readonly text: string;
  readonly spans: readonly AnnotatedSpan[];
  readonly triplets: readonly Triplet[];
  readonly truncation: TruncationReport;
  /** Candidates per window (only with `returnCandidates: true`). */
  readonly windows?: readonly WindowInfo[];
}

/** A mention given by the caller (disambiguation only): UTF-16 offsets into the text. */
export interface GivenMention {
  readonly start: number;
  readonly end: number;
}

/** A candidate given by the caller instead of retrieval. */
export interface GivenCandidate {
  readonly id: string;
  readonly title: string;
}

export interface AnnotateOptions {
  /** Override the bundle task; only narrowing is allowed (cie -> el or re). */
  readonly task?: Task;
  /**
   * Entity candidates per window named by the window's words (KB titles and aliases); they replace the lowest
   * retrieved ones (default: bundle's entities.aliasTopK; 0 turns name lookup off).
   */
  readonly aliasTopK?: number;
  /**
   * Weight of the KB's name prior in linking: each candidate's logit gets weight x log p(entity | mention text),
   * from titles and aliases (default: bundle's entities.aliasPriorWeight; 0 = the reader alone).
   */
  readonly aliasPriorWeight?: number;
  /**
   * Lowest probability a link may have: a mention whose best entity is less likely is NME, its score then
   * P(NME | mention) (default: bundle's entities.linkThreshold, 0 when absent; 0 = every best entity is linked).
   */
  readonly linkThreshold?: number;
  /** Entity candidates per window (default: bundle's entities.topK). */
  readonly topK?: number;
  /** Relation candidates per window (default: bundle's relations.topK). */
  readonly relationTopK?: number;
  readonly windowSize?: number;
  readonly windowStride?: number;
  /** `words`: fixed word windows; `sentences`: one window per sentence (long ones windowed). Default: the bundle's. */
  readonly windowStrategy?: 'words' | 'sentences';
  /** P(relation) threshold (default: bundle's reader.relationThreshold). */
  readonly relationThreshold?: number;
  /**
   * Relations kept per ordered (subject, object) pair, highest probability first; 0 = every relation above the
   * threshold. 1 suits relation sets read in several passes, where a pair otherwise collects near-synonyms.
   * Default: bundle's reader.relationsPerPair (0 when absent).
   */
  readonly relationsPerPair?: number;
  /** Include candidates and windows in the result. */
  readonly returnCandidates?: boolean;
  readonly returnWindows?: boolean;
  /** Keep `--NME--` spans in EL output (default false for el, always kept for re/cie). */
  readonly keepNme?: boolean;
  /** Pre-given mentions per text (array in the same order as the texts). */
  readonly mentions?: readonly (readonly GivenMention[])[];
  /** Entity candidates to use for every window instead of retrieval. */
  readonly entityCandidates?: readonly GivenCandidate[];
  /** Relation candidates to use for every window instead of the relation index. */
  readonly relationCandidates?: readonly GivenCandidate[];
  /** Pass the document's first word as a second segment to the retriever. */
  readonly useDocTopic?: boolean;
}

/**
 * A document with its own word segmentation (e.g. a dataset's gold tokens). Words must be in order,
 * non-overlapping, inside `text`, and `text.slice(w.start, w.end) === w.text`.
 */
export interface DocumentInput {
  readonly text: string;
  readonly words?: readonly Word[];
}

/** What `Relik.annotate` accepts for one document. */
export type AnnotateInput = string | DocumentInput;
