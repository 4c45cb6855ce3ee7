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
  ) {}

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

  /** Candidates for each query: top-K by the retriever, or the first K passages when there is no retriever. */
  async candidatesFor(queries: readonly RetrievalQuery[], topK: number): Promise<ReaderCandidate[][]> {
    if (this.retriever === null || this.index.search === null) {
      const all = this.index.passages.slice(0, topK).map((_, row) => this.readerCandidate(row, Number.NaN));
      return queries.map(() => all);
    }
    const retriever = this.retriever;
    const { vectors, dim } = await retriever.embed(queries.map((q) => retriever.queryIds(q)));
    if (dim !== this.index.manifest.dim) throw new RangeError(`retriever embeds ${dim} dimensions but the index has ${this.index.manifest.dim}`);
    return this.index.search.search(vectors, topK).map((hits) => hits.map((hit) => this.readerCandidate(hit.row, hit.score)));
  }

  /** Reader candidates for caller-given {id, title} pairs (no retrieval, score NaN). */
  given(list: readonly GivenCandidate[]): ReaderCandidate[] {
    return list.map((c) => {
      const ids = this.encodeTitle(c.title);
      return { id: c.id, title: c.title, score: Number.NaN, tokenIds: ids.slice(0, this.maxCandidateTokens), titleTruncated: ids.length > this.maxCandidateTokens };
    });
  }
}
