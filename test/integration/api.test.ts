/** The library API on the tiny fixture bundles: shapes, options, and every class of bad input. */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AliasTable } from '../../src/index/aliases.js';
import { readPassages } from '../../src/index/passages.js';
import { BundleError, Relik } from '../../src/index.js';
import type { RelikResult } from '../../src/types.js';

const fixtures = join(import.meta.dirname, '..', '..', 'fixtures', 'bundles');

describe('Relik.annotate', () => {
  let el: Relik;
  let cie: Relik;
  beforeAll(async () => {
    el = await Relik.load(join(fixtures, 'tiny-el'));
    cie = await Relik.load(join(fixtures, 'tiny-cie'));
  });
  afterAll(async () => {
    await el.close();
    await cie.close();
  });

  it('a string in gives one result; an array in gives one result per text, in order', async () => {
    const one = await el.annotate('Ada Lovelace lived in London.');
    expect(Array.isArray(one)).toBe(false);
    expect(one.text).toBe('Ada Lovelace lived in London.');
    const many = await el.annotate(['Alan Turing.', 'Grace Hopper worked in Oslo.', 'Paris']);
    expect(many.map((r) => r.text)).toEqual(['Alan Turing.', 'Grace Hopper worked in Oslo.', 'Paris']);
    expect(await el.annotate([])).toEqual([]);
    // Batched and single results are identical.
    expect(many[1]).toEqual(await el.annotate('Grace Hopper worked in Oslo.'));
  });

  it('returns candidates and windows on request, with retriever scores in rank order', async () => {
    const r = await el.annotate('Marie Curie works for Acme Corporation in Paris.', { returnCandidates: true, topK: 5 });
    expect(r.windows).toHaveLength(1);
    const candidates = r.windows?.[0]?.entityCandidates ?? [];
    expect(candidates).toHaveLength(5);
    for (let i = 1; i < candidates.length; i++) expect(candidates[i - 1]!.score).toBeGreaterThanOrEqual(candidates[i]!.score);
  });

  it('uses given candidates (no retrieval) and given mentions (disambiguation only)', async () => {
    const text = 'Yesterday Marie Curie met Ada Lovelace.';
    const r = await el.annotate(text, {
      entityCandidates: [{ id: 'x1', title: 'Marie Curie' }, { id: 'x2', title: 'Ada Lovelace' }],
      mentions: [[{ start: 10, end: 21 }, { start: 26, end: 38 }]],
      keepNme: true,
      returnCandidates: true,
    });
    expect(r.spans.map((s) => [s.start, s.end, s.text])).toEqual([[10, 21, 'Marie Curie'], [26, 38, 'Ada Lovelace']]);
    for (const s of r.spans) expect(['x1', 'x2', null]).toContain(s.id);
    expect(r.windows?.[0]?.entityCandidates?.map((c) => c.id)).toEqual(['x1', 'x2']);
    // A mention inside a word splits it rather than being lost.
    const inside = await el.annotate('NewYork', { mentions: [[{ start: 0, end: 3 }]], keepNme: true });
    expect(inside.spans.map((s) => s.text)).toEqual(['New']);
    expect(inside.truncation.droppedMentions).toBe(0);
  });

  it('name lookup puts the entries a window names first and weighs links by p(entity | mention text)', async () => {
    const text = 'Yesterday Marie Curie met Lovelace in Oslo.';
    const r = await el.annotate(text, { returnCandidates: true, topK: 3, aliasTopK: 2 });
    const candidates = r.windows?.[0]?.entityCandidates ?? [];
    const plain = await el.annotate(text, { returnCandidates: true, topK: 3 });
    const retrieved = plain.windows?.[0]?.entityCandidates?.map((c) => c.id) ?? [];
    expect(retrieved).not.toContain('tiny:E074');
    // Every entry's retriever score for this window (the tiny KB has 100), and the entries the window names, in
    // name order (titles "Marie Curie", "Oslo", then the last name "Lovelace").
    const all = await el.annotate(text, { returnCandidates: true, topK: 100 });
    const scoreOf = new Map((all.windows?.[0]?.entityCandidates ?? []).map((c) => [c.id, c.score]));
    const passages = await readPassages(join(fixtures, 'tiny-el', 'index', 'entities', 'passages.jsonl'));
    const pool = AliasTable.fromPassages(passages).rowsNamedIn(text.replace('.', ' .').split(' '), 4).map((row) => passages[row]!.id);
    expect(pool.slice(0, 3)).toEqual(['tiny:E000', 'tiny:E074', 'tiny:E001']);
    // Of up to 2 x 2 named entries, the 2 the query scores highest join the best retrieved one; all three in
    // retriever-score order (the order the reader was trained on).
    const kept = [...pool].sort((a, b) => scoreOf.get(b)! - scoreOf.get(a)!).slice(0, 2);
    const ids = candidates.map((c) => c.id);
    expect([...ids].sort()).toEqual([...kept, retrieved.find((id) => !kept.includes(id))!].sort());
    const scores = candidates.map((c) => c.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    const mentions = [[{ start: 10, end: 21 }, { start: 26, end: 34 }, { start: 38, end: 42 }]];
    const reader = await el.annotate(text, { aliasTopK: 3, mentions, keepNme: true });
    const named = await el.annotate(text, { aliasTopK: 3, aliasPriorWeight: 50, mentions, keepNme: true });
    // The tiny reader alone links none of them right; a heavy name prior decides.
    expect(reader.spans.map((s) => s.id)).not.toEqual(['tiny:E000', 'tiny:E001', 'tiny:E074']);
    expect(named.spans.map((s) => s.id)).toEqual(['tiny:E000', 'tiny:E001', 'tiny:E074']);
  });

  it('cie bundles link and relate; narrowing the task changes what runs', async () => {
    const text = 'Nikola Tesla works for Cyberdyne Systems in Paris.';
    const full = await cie.annotate(text, { relationThreshold: 0 });
    for (const t of full.triplets) expect(t.subject).not.toBe(t.object);
    // relationsPerPair 1: each ordered pair keeps its most probable relation of the uncapped result
    const capped = await cie.annotate(text, { relationThreshold: 0, relationsPerPair: 1 });
    const best = new Map<string, number>();
    for (const t of full.triplets) best.set(`${t.subject}:${t.object}`, Math.max(best.get(`${t.subject}:${t.object}`) ?? 0, t.score));
    expect(full.triplets.length).toBeGreaterThan(best.size); // the tiny reader gives pairs several relations at 0
    expect(capped.triplets.map((t) => [t.subject, t.object, t.score])).toEqual([...best].map(([k, s]) => [...k.split(':').map(Number), s]));
    const elOnly = await cie.annotate(text, { task: 'el' });
    expect(elOnly.triplets).toEqual([]);
    await expect(el.annotate(text, { task: 're' })).rejects.toThrow(/options.task must be one of el for this el bundle, got "re"/);
  });

  it('zero candidates and texts without words give empty but valid results', async () => {
    const r = await el.annotate('...', { entityCandidates: [] });
    expect(r.spans.every((s) => s.label === '--NME--' || s.id !== null)).toBe(true);
    const punct = await el.annotate('!!!');
    // tiny-el reads 20 candidates in 64 tokens: they are patched, none is lost.
    expect(punct.truncation).toMatchObject({ patchedWindows: 1, droppedCandidates: 0, splitWindows: 0, droppedMentions: 0 });
  });

  it('rejects bad input with errors naming the parameter and allowed values', async () => {
    await expect(el.annotate('')).rejects.toThrow(new RangeError('texts[0] is empty; give a non-empty text'));
    await expect(el.annotate(42 as unknown as string)).rejects.toThrow(/texts\[0\] must be a string or \{text: string, words\?: Word\[\]\}, got number/);
    await expect(el.annotate('ok', { topk: 3 } as never)).rejects.toThrow(/unknown option "topk"; known options: task, topK/);
    await expect(el.annotate('ok', { topK: 0 })).rejects.toThrow(/options.topK must be an integer >= 1, got 0/);
    await expect(el.annotate('ok', { aliasTopK: -1 })).rejects.toThrow(/options.aliasTopK must be an integer >= 0, got -1/);
    await expect(el.annotate('ok', { aliasPriorWeight: Number.NaN })).rejects.toThrow(/options.aliasPriorWeight must be a finite number >= 0, got NaN/);
    await expect(el.annotate('ok', { windowSize: 8, windowStride: 9 })).rejects.toThrow(/options.windowStride \(9\) must not exceed windowSize \(8\)/);
    await expect(el.annotate('ok', { relationThreshold: 1.5 })).rejects.toThrow(/options.relationThreshold must be a number in \[0, 1\)/);
    await expect(el.annotate('ok', { linkThreshold: 1 })).rejects.toThrow(new RangeError('options.linkThreshold must be a number in [0, 1), got 1'));
    await expect(el.annotate('ok', { linkThreshold: '0.5' as unknown as number })).rejects.toThrow(/options.linkThreshold must be a number in \[0, 1\), got 0.5/);
    await expect(el.annotate('ok', { relationsPerPair: 0.5 })).rejects.toThrow(/options.relationsPerPair must be an integer >= 0, got 0.5/);
    await expect(el.annotate('bad \uD800 text')).rejects.toThrow(/not valid Unicode: it contains an unpaired UTF-16 surrogate/);
    await expect(el.annotate({ text: 'New York', words: [{ text: 'York', start: 4, end: 8 }, { text: 'New', start: 0, end: 3 }] })).rejects.toThrow(/texts\[0\]\.words\[1\]/);
    await expect(el.annotate('ok', { entityCandidates: [{ id: 'a', title: 'A' }, { id: 'a', title: 'B' }] })).rejects.toThrow(/repeats id "a"/);
    await expect(el.annotate(['a', 'b'], { mentions: [[]] })).rejects.toThrow(/one mention list per input text \(2\)/);
  });
});

describe('a bundle whose retriever is the reader encoder (tiny-cie-shared)', () => {
  it('retrieves with the reader graph: same candidates as a separately loaded retriever, one session', async () => {
    const dir = join(fixtures, 'tiny-cie-shared');
    const manifest = JSON.parse(await readFile(join(dir, 'relik.json'), 'utf8')) as { entities: { retriever: string }; reader: { dir: string } };
    expect(manifest.entities.retriever).toBe(manifest.reader.dir);
    const shared = await Relik.load(dir);
    const text = 'Nikola Tesla works for Cyberdyne Systems in Vienna.';
    const first = await shared.annotate(text, { returnCandidates: true, topK: 5 });
    const candidates = first.windows?.[0]?.entityCandidates ?? [];
    expect(candidates).toHaveLength(5);
    for (let i = 1; i < candidates.length; i++) expect(candidates[i - 1]!.score).toBeGreaterThanOrEqual(candidates[i]!.score);
    // Closing releases the one graph once; a second load of the same folder still works.
    await shared.close();
    const again = await Relik.load(dir);
    try {
      expect(await again.annotate(text, { returnCandidates: true, topK: 5 })).toEqual(first);
    } finally {
      await again.close();
    }
  });

  it('names the missing output when the shared graph has no "embedding"', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'relik-shared-'));
    try {
      await cp(join(fixtures, 'tiny-cie-shared'), dir, { recursive: true });
      // the reader graph of tiny-cie has only the reader outputs
      await cp(join(fixtures, 'tiny-cie', 'reader', 'model.onnx'), join(dir, 'reader', 'model.onnx'));
      await expect(Relik.load(dir)).rejects.toThrow(/no output "embedding"/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('Relik.load', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relik-bundle-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function copyBundle(name: string, edit: (bundle: string) => Promise<void>): Promise<string> {
    const target = join(dir, name);
    await cp(join(fixtures, 'tiny-el'), target, { recursive: true });
    await edit(target);
    return target;
  }

  it('names the file for a missing, corrupt or unsupported bundle', async () => {
    await expect(Relik.load(join(dir, 'nothing'))).rejects.toThrow(BundleError);
    await expect(Relik.load(join(dir, 'nothing'))).rejects.toThrow(/relik.json is missing \(.*nothing\/relik.json\)/);
    const version = await copyBundle('v9', async (b) => {
      const m = JSON.parse(await readFile(join(b, 'relik.json'), 'utf8')) as Record<string, unknown>;
      await writeFile(join(b, 'relik.json'), JSON.stringify({ ...m, formatVersion: 9 }));
    });
    await expect(Relik.load(version)).rejects.toThrow(/formatVersion 9 is not supported; this runtime reads versions 1, 2, 3/);
    const corrupt = await copyBundle('corrupt', (b) => writeFile(join(b, 'reader', 'model.onnx'), 'not a model'));
    await expect(Relik.load(corrupt)).rejects.toThrow(/cannot load ONNX model.*reader\/model.onnx/);
    const noTokenizer = await copyBundle('notok', (b) => rm(join(b, 'retriever', 'tokenizer.json')));
    await expect(Relik.load(noTokenizer)).rejects.toThrow(/cannot read tokenizer.*retriever\/tokenizer.json/);
    const badJson = await copyBundle('badjson', (b) => writeFile(join(b, 'relik.json'), '{"format": "relik-bundle", '));
    await expect(Relik.load(badJson)).rejects.toThrow(/relik.json is not valid JSON/);
    const badTask = await copyBundle('badtask', async (b) => {
      const m = JSON.parse(await readFile(join(b, 'relik.json'), 'utf8')) as Record<string, unknown>;
      await writeFile(join(b, 'relik.json'), JSON.stringify({ ...m, task: 'ner' }));
    });
    await expect(Relik.load(badTask)).rejects.toThrow(/relik.json: task must be one of el, re, cie, got "ner"/);
    const badThreshold = await copyBundle('badlink', async (b) => {
      const m = JSON.parse(await readFile(join(b, 'relik.json'), 'utf8')) as { entities: Record<string, unknown> };
      await writeFile(join(b, 'relik.json'), JSON.stringify({ ...m, entities: { ...m.entities, linkThreshold: 1 } }));
    });
    await expect(Relik.load(badThreshold)).rejects.toThrow(/relik.json: entities.linkThreshold must be a number in \[0, 1\), got 1/);
  });

  it("takes entities.linkThreshold as the default link threshold; a call's linkThreshold overrides it", async () => {
    const text = 'Marie Curie works for Acme Corporation in Paris. Ada Lovelace lived in London.';
    const plain = await Relik.load(join(fixtures, 'tiny-el'));
    const mentions = [[{ start: 0, end: 11 }, { start: 22, end: 38 }, { start: 42, end: 47 }, { start: 49, end: 61 }, { start: 71, end: 77 }]];
    let base: RelikResult;
    try {
      base = await plain.annotate(text, { mentions, keepNme: true, aliasTopK: 3, aliasPriorWeight: 2 });
    } finally {
      await plain.close();
    }
    const linked = base.spans.filter((s) => s.id !== null);
    expect(linked.length).toBeGreaterThan(1);
    const scores = linked.map((s) => s.score).sort((a, b) => a - b);
    const cut = ((scores[0] as number) + (scores[scores.length - 1] as number)) / 2; // between the weakest and strongest link
    expect(scores[0]).toBeLessThan(cut);
    const strict = await copyBundle('linkthreshold', async (b) => {
      const m = JSON.parse(await readFile(join(b, 'relik.json'), 'utf8')) as { entities: Record<string, unknown> };
      await writeFile(join(b, 'relik.json'), JSON.stringify({ ...m, entities: { ...m.entities, linkThreshold: cut } }));
    });
    const thresholded = await Relik.load(strict);
    try {
      const result = await thresholded.annotate(text, { mentions, keepNme: true, aliasTopK: 3, aliasPriorWeight: 2 });
      // Same mentions; the links below the threshold are NME now, the others unchanged.
      expect(result.spans.map((s) => s.start)).toEqual(base.spans.map((s) => s.start));
      result.spans.forEach((span, i) => {
        const before = base.spans[i]!;
        if (before.id !== null && before.score >= cut) expect(span).toEqual(before);
        else if (before.id !== null) {
          // made NME by the threshold: the link it would have had is kept beside it
          expect([span.id, span.label]).toEqual([null, '--NME--']);
          expect(span.belowThreshold).toEqual({ id: before.id, label: before.label, score: before.score });
          expect(span.score).toBeLessThan(before.score);
        } else expect(span).toEqual(before);
      });
      expect(result.spans.filter((s) => s.id === null).length).toBeGreaterThan(base.spans.filter((s) => s.id === null).length);
      expect(await thresholded.annotate(text, { mentions, keepNme: true, aliasTopK: 3, aliasPriorWeight: 2, linkThreshold: 0 })).toEqual(base);
    } finally {
      await thresholded.close();
    }
  });
});

describe('a cIE bundle whose span candidates are a closed set (entity types, no retriever)', () => {
  it('reads every type in every window, in index order, and labels spans with them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'relik-types-'));
    try {
      await cp(join(fixtures, 'tiny-cie'), dir, { recursive: true });
      await rm(join(dir, 'retriever'), { recursive: true });
      const types = ['Loc', 'Peop', 'Org', 'Other'];
      const entities = join(dir, 'index', 'entities');
      await rm(entities, { recursive: true });
      await cp(join(dir, 'index', 'relations'), entities, { recursive: true });
      await writeFile(join(entities, 'passages.jsonl'), types.map((t) => JSON.stringify({ id: `type:${t}`, title: t, text: t })).join('\n') + '\n');
      await writeFile(join(entities, 'index.json'), JSON.stringify({ count: 4, dim: 0, dtype: 'float16', passages: 'passages.jsonl', maxPassageTokens: 64 }));
      const manifest = JSON.parse(await readFile(join(dir, 'relik.json'), 'utf8')) as Record<string, unknown>;
      await writeFile(join(dir, 'relik.json'), JSON.stringify({ ...manifest, entities: { index: 'index/entities', retriever: null, topK: 4 } }));

      const typed = await Relik.load(dir);
      try {
        const text = 'Nikola Tesla works for Cyberdyne Systems in Vienna. Marie Curie lived in Paris.';
        const result = await typed.annotate(text, { returnCandidates: true, windowSize: 8, windowStride: 4 });
        expect(result.windows?.length).toBeGreaterThan(1);
        for (const window of result.windows ?? []) {
          expect(window.entityCandidates?.map((c) => c.id)).toEqual(types.map((t) => `type:${t}`));
        }
        expect(result.spans.length).toBeGreaterThan(0);
        for (const span of result.spans) expect([...types, '--NME--']).toContain(span.label);
        for (const span of result.spans.filter((s) => s.label !== '--NME--')) expect(span.id).toBe(`type:${span.label}`);
      } finally {
        await typed.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the default bundle: results do not depend on the batch', () => {
  it('annotates each text alone and all of them in one call to the same results', async () => {
    // With int8 compute in the MatMuls (accuracy level 4) 4 of these 8 texts came out differently in one batch.
    const texts = [
      'John Wilkes Booth, who assassinated President Lincoln, was an actor.',
      'Rome is the capital of Italy.',
      'Ray, 61, will not be eligible for parole until 1998 for the April 4, 1968, killing of King in Memphis, Tenn.',
      'Maria Lopez, a spokeswoman for the Red Cross in Geneva, said the convoy had reached the border town of Sittwe on Tuesday.',
      'The company, based in Houston, Texas, hired Peter Brandt as its new chief executive after the merger with Northwind Energy.',
      'Officials in Nairobi said the minister, Joseph Kamau, would travel to London and Paris next week to meet bankers from Barclays.',
      'Elena Petrova, who was born in Kiev and lives in Boston, works for Harvard University as a historian of the Soviet Union.',
      'Police in Lyon arrested two men suspected of killing the journalist Marc Dubois outside his home in Villeurbanne last month.',
    ];
    const relik = await Relik.load(join(import.meta.dirname, '..', '..', 'models', 'default'));
    try {
      const alone = [];
      for (const text of texts) alone.push(await relik.annotate(text));
      expect(await relik.annotate(texts)).toEqual(alone);
      expect(alone.every((r) => r.spans.length > 0)).toBe(true);
    } finally {
      await relik.close();
    }
  });
});
