import { AliasTable, aliasKey } from '../index/aliases.js';
import type { Passage } from '../index/passages.js';
import type { PassageIndex } from '../index/vector-index.js';
import type { Candidate, GivenCandidate } from '../types.js';
import type { RetrievalQuery, Retriever } from './retriever.js';

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

  /** Name lookup over the index's titles and aliases, built on first use (about 0.1 s per 40K passages). */
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
   * With `aliasTopK` > 0, up to that many entries the query's words name (see {@link AliasTable}) come first and
   * the retrieved ones fill the remaining of max(topK, named) slots.
   */
  async candidatesFor(queries: readonly RetrievalQuery[], topK: number, aliasTopK = 0): Promise<ReaderCandidate[][]> {
    let dense: ReaderCandidate[][];
    if (this.retriever === null || this.index.search === null) {
      const all = this.index.passages.slice(0, topK).map((_, row) => this.readerCandidate(row, Number.NaN));
      dense = queries.map(() => all);
    } else {
      const retriever = this.retriever;
      const { vectors, dim } = await retriever.embed(queries.map((q) => retriever.queryIds(q)));
      if (dim !== this.index.manifest.dim) throw new RangeError(`retriever embeds ${dim} dimensions but the index has ${this.index.manifest.dim}`);
      dense = this.index.search.search(vectors, topK).map((hits) => hits.map((hit) => this.readerCandidate(hit.row, hit.score)));
    }
    const aliases = this.aliases;
    if (aliases === null || aliasTopK <= 0) return dense;
    return queries.map((query, q) => {
      const retrieved = dense[q] as ReaderCandidate[];
      const scoreOf = new Map(retrieved.map((c) => [c.id, c.score]));
      const named = aliases.rowsNamedIn(query.words, aliasTopK).map((row) => this.readerCandidate(row, Number.NaN));
      const namedIds = new Set(named.map((c) => c.id));
      // Named entries take the first slots (scored when the retriever found them too); retrieved ones fill the
      // rest, so a window still has topK candidates: one reader pass, as without name lookup.
      const first = named.map((c) => ({ ...c, score: scoreOf.get(c.id) ?? Number.NaN }));
      return [...first, ...retrieved.filter((c) => !namedIds.has(c.id))].slice(0, Math.max(topK, first.length));
    });
  }

  /** p(entity id | name) for the name `words`, from the index's titles and aliases; null when nothing has that name. */
  namePriors(words: readonly string[]): ReadonlyMap<string, number> | null {
    const table = this.aliases;
    if (table === null) return null;
    const key = aliasKey(words);
    if (this.priorCache.has(key)) return this.priorCache.get(key) ?? null;
    const rows = table.priorsOf(words);
    const byId = rows === null ? null : new Map([...rows].map(([row, p]) => [(this.index.passages[row] as Passage).id, p]));
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
