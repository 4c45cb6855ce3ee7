/**
 * Round trip with the training code: the golden files were written by PyTorch (training/relik_train/fixtures.py)
 * from the same bundles. The TypeScript runtime must rebuild the same input ids from words and candidates, get
 * the same logits from ONNX, and decode the same spans and triplets.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseManifest, type BundleManifest } from '../../src/bundle/manifest.js';
import { PassageIndex } from '../../src/index/vector-index.js';
import { Retriever } from '../../src/pipeline/retriever.js';
import { buildReaderPasses } from '../../src/reader/input.js';
import { Reader } from '../../src/reader/reader.js';
import { Relik } from '../../src/relik.js';
import type { Word } from '../../src/types.js';

const root = join(import.meta.dirname, '..', '..');
const bundleDir = (name: string): string => process.env.RELIK_PARITY_BUNDLES ? join(process.env.RELIK_PARITY_BUNDLES, name) : join(root, 'fixtures', 'bundles', name);
const goldenPath = (name: string): string => process.env.RELIK_PARITY_GOLDEN ? join(process.env.RELIK_PARITY_GOLDEN, `${name}.json`) : join(root, 'fixtures', 'golden', `${name}.json`);

interface GoldenCase {
  name: string;
  words: string[];
  entityCandidates: { id: string; title: string }[];
  relationCandidates: { id: string; title: string }[];
  inputIds: number[][];
  startLogit: number[][];
  features: number[][][];
  spans: [number, number, string][];
  triplets: [number, string, number][];
}
interface Golden {
  task: 'el' | 're' | 'cie';
  cases: GoldenCase[];
  retriever?: { maxQueryTokens: number; queries: { words: string[]; inputIds: number[]; embedding: number[]; top: [string, number][] }[] };
}

/** Words joined by single spaces, with their offsets. */
function wordsToDocument(words: readonly string[]): { text: string; words: Word[] } {
  const out: Word[] = [];
  let text = '';
  for (const w of words) {
    if (text.length > 0) text += ' ';
    out.push({ text: w, start: text.length, end: text.length + w.length });
    text += w;
  }
  return { text, words: out };
}

function maxAbsDiff(a: ArrayLike<number>, b: readonly number[]): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < b.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}

for (const name of ['tiny-el', 'tiny-re', 'tiny-cie', 'tiny-cie-shared']) {
  describe(`parity with PyTorch: ${name}`, () => {
    const golden = JSON.parse(readFileSync(goldenPath(name), 'utf8')) as Golden;
    let manifest: BundleManifest;
    let reader: Reader;
    let relik: Relik;

    beforeAll(async () => {
      const dir = bundleDir(name);
      manifest = parseManifest(readFileSync(join(dir, 'relik.json'), 'utf8'), dir);
      reader = await Reader.load(join(dir, manifest.reader.dir), manifest.reader, { el: golden.task !== 're', re: golden.task !== 'el' }, {});
      relik = await Relik.load(dir);
    });
    afterAll(async () => {
      await reader.release();
      await relik.close();
    });

    it('rebuilds identical reader input ids (words, markers, titles, patches)', () => {
      for (const c of golden.cases) {
        const titleIds = (list: { title: string }[]): number[][] => list.map((x) => reader.tokenizer.encodeText(x.title).slice(0, manifest.reader.maxCandidateTokens));
        const { passes } = buildReaderPasses(
          { task: golden.task, wordIds: c.words.map((w) => reader.tokenizer.encodeWord(w)), entityCandidates: titleIds(c.entityCandidates), relationCandidates: titleIds(c.relationCandidates) },
          reader.vocabulary,
          { maxLength: manifest.reader.maxLength },
        );
        expect(passes.map((p) => p.inputIds), c.name).toEqual(c.inputIds);
      }
    });

    it('gets the same start logits and features from ONNX as PyTorch', async () => {
      for (const c of golden.cases) {
        const passes = c.inputIds.map((inputIds) => ({ inputIds, subwordWord: [], isWordStart: [], isWordEnd: [], entitySlots: [], relationSlots: [] }));
        const outputs = await reader.run(passes);
        outputs.forEach((out, p) => {
          // Outputs are padded to the longest pass of the batch; golden values are unpadded.
          const length = (c.inputIds[p] as number[]).length;
          expect(maxAbsDiff(out.startLogit.subarray(0, length), c.startLogit[p] as number[]), `${c.name} start`).toBeLessThan(1e-3);
          expect(maxAbsDiff(out.features.subarray(0, length * reader.heads.featureSize), (c.features[p] as number[][]).flat()), `${c.name} features`).toBeLessThan(1e-3);
        });
      }
    });

    it('decodes the same spans and triplets through the public API', async () => {
      for (const c of golden.cases) {
        const doc = wordsToDocument(c.words);
        const result = await relik.annotate(doc, {
          keepNme: golden.task !== 'el',
          ...(c.entityCandidates.length > 0 ? { entityCandidates: c.entityCandidates } : {}),
          ...(c.relationCandidates.length > 0 ? { relationCandidates: c.relationCandidates } : {}),
          windowSize: Math.max(c.words.length, 1),
          windowStride: Math.max(c.words.length, 1),
        });
        const wordOf = (offset: number, edge: 'start' | 'end'): number => doc.words.findIndex((w) => w[edge] === offset);
        const spans = result.spans.map((s) => [wordOf(s.start, 'start'), wordOf(s.end, 'end') + 1, s.label]);
        expect(spans, c.name).toEqual(c.spans);
        expect(result.triplets.map((t) => [t.subject, t.relation, t.object]), c.name).toEqual(c.triplets);
      }
    });

    if (golden.retriever !== undefined) {
      const queries = golden.retriever.queries;
      it('retriever: same query ids, embeddings and top passages', async () => {
        const dir = bundleDir(name);
        // tiny-cie-shared: the manifest names the reader folder (one graph with the reader outputs and "embedding")
        const retriever = await Retriever.load(join(dir, manifest.entities?.retriever ?? 'retriever'), golden.retriever?.maxQueryTokens ?? 64, {});
        const index = await PassageIndex.load(join(dir, 'index', 'entities'));
        try {
          for (const q of queries) {
            const ids = retriever.queryIds({ words: q.words });
            expect(ids).toEqual(q.inputIds);
            const { vectors } = await retriever.embed([ids]);
            expect(maxAbsDiff(vectors, q.embedding)).toBeLessThan(1e-3);
            const hits = index.search?.search(vectors, q.top.length) ?? [];
            expect(hits[0]?.map((h) => index.passages[h.row]?.id)).toEqual(q.top.map(([id]) => id));
          }
        } finally {
          await retriever.release();
        }
      });
    }
  });
}
