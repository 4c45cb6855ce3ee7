import { AliasTable, aliasKey, type DocumentNames } from '../index/aliases.js';
import type { Passage } from '../index/passages.js';
import type { PassageIndex, SearchHit } from '../index/vector-index.js';
import type { Candidate, GivenCandidate } from '../types.js';
import type { RetrievalQuery, Retriever } from './retriever.js';

/**
 * Named rows a window considers, as a multiple of aliasTopK: when a window names more entries than it has slots (a
 * results table of ten cities), the aliasTopK of them its query scores highest join the candidates, not the first
 * by name prior alone ("BUFFALO" in an NHL table: Buffalo Sabres, the second "Buffalo" by popularity, over other
 * names' firsts). 2 chosen on aida:testa and conll04:dev (docs/RESULTS.md, "Named candidates by the query").
 */
export const NAMED_POOL_FACTOR = 2;

/**
 * The `limit` rows with the highest scores, in their given order (ties: the earlier row). All of them when there
 * are no more than `limit`, the first `limit` when any score is missing (an index that cannot score rows).
 */
export function bestScored(rows: readonly number[], scores: readonly number[], limit: number): { rows: number[]; scores: number[] } {
  if (rows.length <= limit || scores.some((s) => Number.isNaN(s))) return { rows: rows.slice(0, limit), scores: scores.slice(0, limit) };
  const kept = rows
    .map((_, i) => i)
    .sort((a, b) => (scores[b] as number) - (scores[a] as number) || a - b)
    .slice(0, limit)
    .sort((a, b) => a - b);
  return { rows: kept.map((i) => rows[i] as number), scores: kept.map((i) => scores[i] as number) };
}

/** A candidate with the reader's token ids for its title (cut to maxCandidateTokens). */
export interface ReaderCandidate extends Candidate {
  readonly tokenIds: readonly number[];
  readonly titleTruncated: boolean;
}

/**
 * Where one kind of candidate (entities or relations) comes from: an index, searched with a retriever or
 * taken whole. Title token ids are cached per index row: the same KB entries come back window after window.
 */
export class CandidateSource {
  private readonly tokenCache = new Map<number, { ids: readonly number[]; truncated: boolean }>();

  constructor(
    readonly index: PassageIndex,
    readonly retriever: Retriever | null,
    private readonly encodeTitle: (title: string) => readonly number[],
    private readonly maxCandidateTokens: number,
    /** Whether this source may add candidates by name lookup (entities; relation types are not named in text). */
    private readonly looksUpNames = false,
  ) {}

  private aliasTable: AliasTable | null = null;
  private readonly priorCache = new Map<string, ReadonlyMap<string, number> | null>();

  /** Name lookup over the index's titles and aliases, built on first use (about 0.2 s for 40K passages). */
  get aliases(): AliasTable | null {
    if (!this.looksUpNames) return null;
    return (this.aliasTable ??= AliasTable.fromPassages(this.index.passages));
  }

  private readerCandidate(row: number, score: number): ReaderCandidate {
    const passage = this.index.passages[row] as Passage;
    let cached = this.tokenCache.get(row);
    if (cached === undefined) {
      const ids = this.encodeTitle(passage.title);
      cached = { ids: ids.slice(0, this.maxCandidateTokens), truncated: ids.length > this.maxCandidateTokens };
      this.tokenCache.set(row, cached);
    }
    return { id: passage.id, title: passage.title, score, tokenIds: cached.ids, titleTruncated: cached.truncated };
  }

  /**
   * Candidates for each query: top-K by the retriever (or the first K passages when there is no retriever).
   * With `aliasTopK` > 0, up to that many entries the query's words name (see {@link AliasTable}) join them and
   * take the place of the lowest retrieved ones: max(topK, named) candidates in all. Of up to
   * {@link NAMED_POOL_FACTOR} × aliasTopK named entries, those the query scores highest are kept.
   */
  async candidatesFor(queries: readonly RetrievalQuery[], topK: number, aliasTopK = 0): Promise<ReaderCandidate[][]> {
    const aliases = aliasTopK > 0 ? this.aliases : null;
    if (this.retriever === null || this.index.search === null) {
      const all = this.index.passages.slice(0, topK).map((_, row) => ({ row, score: Number.NaN }));
      return queries.map((q) => this.join(aliases?.rowsNamedIn(q.words, aliasTopK, q.documentNames) ?? [], [], all, topK));
    }
    const pool = queries.map((q) => aliases?.rowsNamedIn(q.words, aliasTopK * NAMED_POOL_FACTOR, q.documentNames) ?? []);
    const retriever = this.retriever;
    const search = this.index.search;
    const { vectors, dim } = await retriever.embed(queries.map((q) => retriever.queryIds(q)));
    if (dim !== this.index.manifest.dim) throw new RangeError(`retriever embeds ${dim} dimensions but the index has ${this.index.manifest.dim}`);
    return search.search(vectors, topK).map((hits, q) => {
      const rows = pool[q] as number[];
      const query = vectors.subarray(q * dim, (q + 1) * dim);
      const named = bestScored(rows, search.scoreRows?.(query, rows) ?? rows.map(() => Number.NaN), aliasTopK);
      return this.join(named.rows, named.scores, hits, topK);
    });
  }

  /**
   * Named rows plus the best retrieved ones, max(topK, named) in all, in retriever-score order: the reader was
   * trained on candidates in that order. Without scores (an approximate index), named rows come first.
   */
  private join(namedRows: readonly number[], namedScores: readonly number[], retrieved: readonly SearchHit[], topK: number): ReaderCandidate[] {
    const taken = new Set(namedRows);
    const keep = Math.max(0, topK - namedRows.length);
    const others = retrieved.filter((hit) => !taken.has(hit.row)).slice(0, keep);
    const named = namedRows.map((row, i) => ({ row, score: namedScores[i] as number }));
    const all = [...named, ...others];
    if (named.every((c) => !Number.isNaN(c.score))) all.sort((a, b) => b.score - a.score || a.row - b.row);
    return all.map((c) => this.readerCandidate(c.row, c.score));
  }

  /**
   * p(entity id | name) for the name `words`, from the index's titles and aliases and the document's own names;
   * null when nothing has that name.
   */
  namePriors(words: readonly string[], local?: DocumentNames): ReadonlyMap<string, number> | null {
    const table = this.aliases;
    if (table === null) return null;
    const key = aliasKey(words);
    const cacheable = local === undefined || !local.has(key);
    if (cacheable && this.priorCache.has(key)) return this.priorCache.get(key) ?? null;
    const rows = table.priorsOf(words, local);
    const byId = rows === null ? null : new Map([...rows].map(([row, p]) => [(this.index.passages[row] as Passage).id, p]));
    if (!cacheable) return byId;
    if (this.priorCache.size > 100_000) this.priorCache.clear();
    this.priorCache.set(key, byId);
    return byId;
  }

  /** Reader candidates for caller-given {id, title} pairs (no retrieval, score NaN). */
  given(list: readonly GivenCandidate[]): ReaderCandidate[] {
    return list.map((c) => {
      const ids = this.encodeTitle(c.title);
      return { id: c.id, title: c.title, score: Number.NaN, tokenIds: ids.slice(0, this.maxCandidateTokens), titleTruncated: ids.length > this.maxCandidateTokens };
    });
  }
}
