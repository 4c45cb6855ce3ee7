import { describe, expect, it } from 'vitest';
import type { Passage } from '../../src/index/passages.js';
import { FlatSearch, PassageIndex, type IndexManifest } from '../../src/index/vector-index.js';
import { bestScored, CandidateSource, NAMED_POOL_FACTOR } from '../../src/pipeline/candidates.js';
import type { RetrievalQuery, Retriever } from '../../src/pipeline/retriever.js';

describe('bestScored', () => {
  it('keeps the highest scores in their given order, ties to the earlier row', () => {
    expect(bestScored([5, 6, 7, 8], [0.1, 0.9, 0.1, 0.5], 2)).toEqual({ rows: [6, 8], scores: [0.9, 0.5] });
    expect(bestScored([5, 6, 7], [0.3, 0.3, 0.3], 2)).toEqual({ rows: [5, 6], scores: [0.3, 0.3] });
    expect(bestScored([5, 6], [0.1, 0.2], 3)).toEqual({ rows: [5, 6], scores: [0.1, 0.2] });
  });

  it('keeps the first rows when a score is missing (an index that cannot score rows)', () => {
    expect(bestScored([5, 6, 7], [Number.NaN, Number.NaN, Number.NaN], 2)).toEqual({ rows: [5, 6], scores: [Number.NaN, Number.NaN] });
  });
});

describe('CandidateSource with name lookup', () => {
  // The mirror of training/tests/test_aliases.py "keeps the named rows the query scores highest": five titles,
  // one-hot index vectors, a query that scores them 0.9, 0.1, 0.8, 0.7, 0.6.
  const titles = ['Paris', 'Oslo', 'Rome', 'Lima', 'Kenya'];
  const passages: Passage[] = titles.map((title, i) => ({ id: String(i), title, text: title }));
  const dim = titles.length;
  const vectors = new Float32Array(dim * dim);
  for (let i = 0; i < dim; i++) vectors[i * dim + i] = 1;
  const manifest: IndexManifest = { count: dim, dim, dtype: 'float32', embeddings: 'e', scales: null, passages: 'p', maxPassageTokens: 8, ann: null };
  const index = new PassageIndex('mem', manifest, passages, new FlatSearch(vectors, dim, dim));
  const query = new Float32Array([0.9, 0.1, 0.8, 0.7, 0.6]);
  const retriever = {
    queryIds: (q: RetrievalQuery): number[] => q.words.map((_, i) => i),
    embed: async (seqs: readonly (readonly number[])[]) => ({ vectors: new Float32Array(seqs.flatMap(() => [...query])), dim }),
  } as unknown as Retriever;
  const source = new CandidateSource(index, retriever, (title) => [title.length], 8, true);
  const titlesOf = (list: readonly { title: string }[]): string[] => list.map((c) => c.title);

  it('of twice the named slots, keeps the named entries the query scores highest', async () => {
    expect(NAMED_POOL_FACTOR).toBe(2);
    const words = ['From', 'Oslo', 'to', 'Kenya', 'via', 'Lima', '.'];
    expect(source.aliases?.rowsNamedIn(words, 2)).toEqual([1, 4]); // by name: Oslo (earlier), then Kenya
    // one named slot: Kenya (0.6) over Oslo (0.1); two retrieved fill the rest (Paris, Rome), by score
    const [one] = await source.candidatesFor([{ words }], 3, 1);
    expect(titlesOf(one ?? [])).toEqual(['Paris', 'Rome', 'Kenya']);
    // name lookup off: the retriever's top 3
    const [off] = await source.candidatesFor([{ words }], 3, 0);
    expect(titlesOf(off ?? [])).toEqual(['Paris', 'Rome', 'Lima']);
  });
});
