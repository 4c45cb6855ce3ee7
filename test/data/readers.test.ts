/**
 * Loads every staged dataset with the exact counts of /work/shared/data/MANIFEST.md and verified_counts.json.
 * Skipped (with a warning) when the shared data folder is absent.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IssueLog } from '../../src/data/issues.js';
import { aidaDocNumber } from '../../src/data/readers/aida.js';
import { loadCandidateLists, readKb } from '../../src/data/readers/kb.js';
import { readWikidataProperties } from '../../src/data/readers/relations.js';
import { dataRoot, getDataset, loadDataset } from '../../src/data/registry.js';
import type { EvalDocument } from '../../src/data/schema.js';
import { NME_LABEL } from '../../src/types.js';
import { SHARED_ROOT, warnIfNoSharedData } from './shared-root.js';

const ROOT = SHARED_ROOT;
warnIfNoSharedData('dataset reader tests');

interface Tally {
  docs: number;
  spans: number;
  triplets: number;
  linked: number;
  nme: number;
  relations: Set<string>;
}

async function tally(name: string, issues?: IssueLog): Promise<Tally & { documents: EvalDocument[] }> {
  const documents = await loadDataset(name, { root: ROOT as string, ...(issues ? { issues } : {}) });
  const t: Tally = { docs: 0, spans: 0, triplets: 0, linked: 0, nme: 0, relations: new Set() };
  for (const d of documents) {
    t.docs += 1;
    t.spans += d.spans.length;
    t.triplets += d.triplets.length;
    for (const s of d.spans) if (s.label === NME_LABEL) t.nme += 1;
    for (const s of d.spans) if (s.id !== undefined) t.linked += 1;
    for (const r of d.triplets) t.relations.add(r.relation);
    if (d.words) for (const w of d.words) expect(d.text.slice(w.start, w.end)).toBe(w.text);
  }
  return { ...t, documents };
}

describe.skipIf(!ROOT)('shared dataset readers', () => {
  it.each([
    ['conll04:train', 922, 3377, 1283],
    ['conll04:dev', 231, 893, 343],
    ['conll04:test', 288, 1079, 422],
  ])('%s: %i docs, %i spans, %i triplets, 5 relation types', async (name, docs, spans, triplets) => {
    const t = await tally(name);
    expect([t.docs, t.spans, t.triplets, t.relations.size]).toEqual([docs, spans, triplets, 5]);
  });

  it('conll04:test: text is the words joined by spaces, token spans become character spans', async () => {
    const { documents } = await tally('conll04:test');
    const doc = documents.find((d) => d.id === '17') as EvalDocument;
    expect(doc.text.startsWith('An art exhibit at the Hakawati Theatre in Arab east Jerusalem')).toBe(true);
    expect(doc.spans.map((s) => [doc.text.slice(s.start, s.end), s.label])).toEqual([
      ['Hakawati Theatre', 'Org'],
      ['Arab', 'Other'],
      ['Jerusalem', 'Loc'],
      ['Palestinians', 'Other'],
    ]);
    expect(doc.triplets).toEqual([{ subject: 0, relation: 'OrgBased_In', object: 2 }]);
    expect(doc.words?.length).toBe(23);
  });

  it.each([
    ['nyt:dev', 5000, 7985],
    ['nyt:test', 5000, 8120],
  ])('%s: %i docs, %i triplets over 22 relation types, all NME', async (name, docs, triplets) => {
    const t = await tally(name);
    expect([t.docs, t.triplets, t.relations.size, t.nme]).toEqual([docs, triplets, 22, t.spans]);
    const inventory = await getDataset(name).relations?.(ROOT as string);
    expect(inventory?.length).toBe(24);
    const names = new Set(inventory?.map((r) => r.title));
    for (const r of t.relations) expect(names.has(r)).toBe(true);
  });

  it.each([
    ['webnlg:train', 5019, 11313, 211],
    ['webnlg:dev', 500, 1224, 144],
    ['webnlg:test', 703, 1607, 149],
    ['webnlg-star:test', 703, 1591, 125],
  ])('%s: %i docs, %i triplets, %i relation types, every entity located', async (name, docs, triplets, types) => {
    const issues = new IssueLog();
    const t = await tally(name, issues);
    expect([t.docs, t.triplets, t.relations.size]).toEqual([docs, triplets, types]);
    expect(issues.total).toBe(0);
  });

  it('webnlg:test locates entity strings on word boundaries and has the 216-relation inventory', async () => {
    const { documents } = await tally('webnlg:test');
    const doc = documents[0] as EvalDocument;
    expect(doc.spans.map((s) => doc.text.slice(s.start, s.end))).toEqual(['A.C. Cesena', 'Cesena', 'Serie B', '23900']);
    expect(doc.triplets[1]).toEqual({ subject: 0, relation: 'league', object: 2 });
    expect((await getDataset('webnlg:test').relations?.(ROOT as string))?.length).toBe(216);
  });

  it.each([
    ['aida:train', 946, 23396, 18541, 4855],
    ['aida:testa', 216, 5917, 4791, 1126],
    ['aida:testb', 231, 5616, 4485, 1131],
  ])('%s: %i docs, %i mentions (%i linked, %i NME)', async (name, docs, mentions, linked, nme) => {
    const t = await tally(name);
    expect([t.docs, t.spans, t.linked, t.nme]).toEqual([docs, mentions, linked, nme]);
  });

  it('aida:testb spans point at the mention text; NME has no id; the doc number keys the candidate lists', async () => {
    const { documents } = await tally('aida:testb');
    const doc = documents[0] as EvalDocument;
    expect(doc.id).toBe('1163testb SOCCER');
    expect(aidaDocNumber(doc.id)).toBe('1163');
    const [first, , third] = doc.spans;
    expect(first && doc.text.slice(first.start, first.end)).toBe('JAPAN');
    expect(first).toMatchObject({ label: 'Japan national football team', id: 'Japan national football team' });
    expect(third).toEqual({ start: 58, end: 69, label: NME_LABEL });
  });

  it('rebel:sample: 1,000 docs, 10,977 entity mentions, 2,868 triples, 186 predicates; shifted offsets realigned', async () => {
    const issues = new IssueLog();
    const t = await tally('rebel:sample', issues);
    expect([t.docs, t.spans, t.triplets, t.relations.size]).toEqual([1000, 10977, 2868, 186]);
    expect(issues.count('span-unresolved')).toBe(0);
    expect(issues.count('span-realigned')).toBe(1711);
    expect(t.linked).toBe(10972); // 5 mentions have an empty uri
    const doc = t.documents[0] as EvalDocument;
    expect(doc.spans.map((s) => [doc.text.slice(s.start, s.end), s.id])).toContainEqual(['Penn State University Press', 'Q7163300']);
    expect((await getDataset('rebel:sample').relations?.(ROOT as string))?.length).toBe(230);
  });

  it('rebel:train/dev/test: the documented split partitions the sample in file order', async () => {
    const all = await tally('rebel:sample', new IssueLog());
    const parts = await Promise.all(['test', 'dev', 'train'].map((s) => tally(`rebel:${s}`, new IssueLog())));
    expect(parts.map((p) => p.docs)).toEqual([100, 100, 800]);
    expect(parts.flatMap((p) => p.documents.map((d) => d.id))).toEqual(all.documents.map((d) => d.id));
    expect(parts.reduce((n, p) => n + p.triplets, 0)).toBe(2868);
  });

  it('KB: 39,445 unique entities keyed by title, 1,000 with a description', async () => {
    let n = 0;
    let described = 0;
    for await (const e of readKb(join(ROOT as string, 'kb/entities.jsonl'))) {
      n += 1;
      if (e.description !== '') described += 1;
    }
    expect([n, described]).toEqual([39445, 1000]);
  });

  it('KB: a duplicate id is an error naming both lines', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'relik-kb-')), 'kb.jsonl');
    writeFileSync(file, '{"title": "A"}\n{"title": "B"}\n{"title": "A"}\n');
    const read = async (): Promise<void> => {
      for await (const e of readKb(file)) void e;
    };
    await expect(read()).rejects.toThrow(`${file}:3: duplicate KB id "A" (first on line 1)`);
  });

  it('AIDA candidate lists: 30,428 mentions, gold among candidates for 27,814', async () => {
    const byDoc = await loadCandidateLists(join(ROOT as string, 'kb/aida_pprforned_candidates.jsonl'));
    let n = 0;
    let covered = 0;
    for (const list of byDoc.values()) {
      for (const c of list) {
        n += 1;
        if (c.goldTitle !== null && c.candidates.includes(c.goldTitle)) covered += 1;
      }
    }
    expect([n, covered]).toEqual([30428, 27814]);
    expect(byDoc.get('1163')?.length).toBeGreaterThan(0);
  });

  it('Wikidata property passages are "label: description"', async () => {
    const merged = await readWikidataProperties(join(ROOT as string, 'wikidata_properties/wikidata_properties_merged.json'));
    expect(merged.length).toBe(2550);
    expect(merged.find((p) => p.id === 'P6')?.text).toBe(
      'head of government: head of the executive power of this town, city, municipality, state, country, or other governmental body',
    );
    expect(merged.find((p) => p.id === 'P7')?.text).toBe('brother');
    const fewrel = await readWikidataProperties(join(ROOT as string, 'wikidata_properties/fewrel_pid2name.json'));
    expect(fewrel.length).toBe(744);
    const dump = await readWikidataProperties(join(ROOT as string, 'wikidata_properties/maxlath_properties_en_2016.json'));
    expect(dump.length).toBe(2406);
  });

  it('conll04 relation inventory maps verbose names to gold names', async () => {
    const inv = await getDataset('conll04:test').relations?.(ROOT as string);
    expect(inv?.map((r) => r.title)).toEqual(['Work_For', 'Kill', 'OrgBased_In', 'Live_In', 'Located_In']);
    expect(inv?.[0]?.aliases).toContain('Work for');
  });

  it('--limit stops early', async () => {
    expect((await loadDataset('nyt:test', { root: ROOT as string, limit: 3 })).length).toBe(3);
  });
});

describe('dataset registry', () => {
  it('lists the known names for an unknown dataset', () => {
    expect(() => getDataset('conll05:test')).toThrow(/unknown dataset "conll05:test"; dataset must be one of: conll04:train, .*aida:testb.*rebel:sample/);
  });

  it('resolves the data root from the override, RELIK_DATA, or ../shared/data', () => {
    expect(dataRoot('/x', { RELIK_DATA: '/y' }, '/repo')).toBe('/x');
    expect(dataRoot(undefined, { RELIK_DATA: '/y' }, '/repo')).toBe('/y');
    expect(dataRoot(undefined, {}, '/work/main')).toBe('/work/shared/data');
  });

  it('reports a missing dataset file with a hint', async () => {
    await expect(loadDataset('conll04:test', { root: '/nonexistent' })).rejects.toThrow(/dataset conll04:test not found; set --data-root or RELIK_DATA/);
  });
});
