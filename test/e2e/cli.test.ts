/** Runs the built CLI (dist/) as a user would, on the tiny random-weight bundles committed as fixtures. */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const cli = join(root, 'dist', 'src', 'cli', 'main.js');
const bundle = (name: string): string => join(root, 'fixtures', 'bundles', name);
const run = promisify(execFile);

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

function relik(args: string[], stdin?: string): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

beforeAll(async () => {
  if (!existsSync(cli)) await run('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root });
}, 120_000);

describe('relik annotate (CLI)', () => {
  it('annotates a text argument and prints JSON with spans, triplets and offsets', async () => {
    const text = 'Marie Curie works for Acme Corporation in Paris 😀 with Ada Lovelace.';
    const out = await relik(['annotate', '--bundle', bundle('tiny-cie'), '--format', 'json', text]);
    expect(out.code, out.stderr).toBe(0);
    const result = JSON.parse(out.stdout) as { id: string; text: string; spans: { start: number; end: number; text: string; label: string; id: string | null; score: number }[]; triplets: { subject: number; object: number; relation: string }[]; truncation: object };
    expect(result.text).toBe(text);
    expect(result.spans.length).toBeGreaterThan(0);
    for (const span of result.spans) {
      expect(text.slice(span.start, span.end)).toBe(span.text);
      expect(span.score).toBeGreaterThanOrEqual(0);
      expect(span.score).toBeLessThanOrEqual(1);
    }
    for (const t of result.triplets) {
      expect(result.spans[t.subject]).toBeDefined();
      expect(result.spans[t.object]).toBeDefined();
      expect(['Work_For', 'Live_In', 'OrgBased_In', 'Located_In', 'Kill']).toContain(t.relation);
    }
    expect(result.truncation).toMatchObject({ droppedCandidates: 0 });
  });

  it('streams JSONL from stdin to JSONL on stdout, in order, reporting bad lines without stopping', async () => {
    const lines = [JSON.stringify({ id: 'a', text: 'Alan Turing lived in London.' }), 'not json', JSON.stringify({ id: 'c', text: '' }), JSON.stringify('Grace Hopper worked for Globex in Oslo.')];
    const out = await relik(['annotate', '--bundle', bundle('tiny-el'), '--batch-size', '2'], `${lines.join('\n')}\n`);
    expect(out.code).toBe(1);
    const records = out.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: string; spans?: unknown[]; error?: { type: string; message: string } });
    expect(records.map((r) => r.id)).toEqual(['a', '2', 'c', '4']);
    expect(records[0]?.spans).toBeDefined();
    expect(records[1]?.error?.message).toMatch(/line 2: invalid JSON/);
    expect(records[2]?.error).toEqual({ type: 'RangeError', message: 'texts[0] is empty; give a non-empty text' });
    expect(records[3]?.spans).toBeDefined();
    expect(out.stderr).toMatch(/2 document\(s\) failed/);
  });

  it('windows a long document instead of cutting it: spans reach its end', async () => {
    const sentence = 'Ada Lovelace met Alan Turing in Paris and Grace Hopper in Berlin. ';
    const text = sentence.repeat(40);
    const out = await relik(['annotate', '--bundle', bundle('tiny-el'), '--format', 'json', '--keep-nme', text]);
    expect(out.code, out.stderr).toBe(0);
    const result = JSON.parse(out.stdout) as { spans: { start: number; end: number }[] };
    expect(Math.max(...result.spans.map((s) => s.end))).toBeGreaterThan(text.length * 0.9);
  });

  it('prints a readable report on a terminal-like format', async () => {
    const out = await relik(['annotate', '--bundle', bundle('tiny-re'), '--format', 'text', 'Alan Turing works for Globex in Oslo.']);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain('Alan Turing works for Globex in Oslo.');
    expect(out.stdout).toMatch(/"[^"]+" -> --NME--/);
  });

  it('fails clearly on a missing bundle, a bad option and an unknown command', async () => {
    const missing = await relik(['annotate', '--bundle', join(root, 'no-such-bundle'), 'text']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/BundleError: not a ReLiK bundle: relik.json is missing \(.*no-such-bundle\/relik.json\)/);
    const badOption = await relik(['annotate', '--bundle', bundle('tiny-el'), '--top-k', 'zero', 'text']);
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toMatch(/--top-k must be an integer >= 1, got "zero"/);
    const unknown = await relik(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/);
  });
});

describe('relik index build (CLI)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relik-index-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('embeds a user KB into a new bundle whose candidates come from it', async () => {
    const kb = join(dir, 'kb.jsonl');
    const entries = ['Zorblax Industries', 'Quentin Marlowe', 'Port Velmora'].map((title, i) => ({ id: `my:${i}`, title, description: 'a made-up entry' }));
    Object.assign(entries[0]!, { aliases: ['Zorblax', { text: 'ZI', count: 3 }] });
    Object.assign(entries[1]!, { popularity: 12 });
    await writeFile(kb, entries.map((e) => JSON.stringify(e)).join('\n'));
    const out = join(dir, 'my-bundle');
    const built = await relik(['index', 'build', kb, '--bundle', bundle('tiny-el'), '--out', out]);
    expect(built.code, built.stderr).toBe(0);
    expect(built.stderr).toMatch(/indexed 3 entities/);
    const index = JSON.parse(await readFile(join(out, 'index', 'entities', 'index.json'), 'utf8')) as { count: number; dim: number; dtype: string };
    expect(index).toMatchObject({ count: 3, dtype: 'float16' });
    const annotated = await relik(['annotate', '--bundle', out, '--format', 'json', '--candidates', 'Quentin Marlowe lives in Port Velmora.']);
    expect(annotated.code, annotated.stderr).toBe(0);
    const result = JSON.parse(annotated.stdout) as { windows: { entityCandidates: { id: string }[] }[] };
    expect(result.windows[0]?.entityCandidates.map((c) => c.id).sort()).toEqual(['my:0', 'my:1', 'my:2']);
    // Aliases travel into the bundle and name the entry: with one candidate slot, name lookup fills it.
    const passages = (await readFile(join(out, 'index', 'entities', 'passages.jsonl'), 'utf8')).split('\n');
    expect(JSON.parse(passages[0]!)).toMatchObject({ aliases: [{ text: 'Zorblax', count: 1 }, { text: 'ZI', count: 3 }] });
    expect(JSON.parse(passages[1]!)).toMatchObject({ title: 'Quentin Marlowe', popularity: 12 });
    const oneSlot = async (aliasTopK: number, text: string): Promise<string[]> => {
      const r = await relik(['annotate', '--bundle', out, '--format', 'json', '--candidates', '--top-k', '1', '--alias-top-k', String(aliasTopK), text]);
      expect(r.code, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { windows: { entityCandidates: { id: string }[] }[] }).windows[0]?.entityCandidates.map((c) => c.id) ?? [];
    };
    expect(await oneSlot(0, 'They met the ZI board.')).not.toEqual(['my:0']); // the retriever alone: another entry
    expect(await oneSlot(1, 'They met the ZI board.')).toEqual(['my:0']);
    // Two names, one slot: of the named entries (ZI -> my:0, alias seen 3 times; Marlowe -> my:1, last name 0.1),
    // the one the window's query scores highest is kept, whatever their priors (the retriever's top-1 is my:1).
    expect(await oneSlot(0, 'Marlowe met the ZI board.')).toEqual(['my:1']);
    expect(await oneSlot(1, 'Marlowe met the ZI board.')).toEqual(['my:1']);
  });

  it('rejects a KB with duplicate ids, naming the line', async () => {
    const kb = join(dir, 'dup.jsonl');
    await writeFile(kb, `${JSON.stringify({ id: 'x', title: 'A' })}\n${JSON.stringify({ id: 'x', title: 'B' })}\n`);
    const built = await relik(['index', 'build', kb, '--bundle', bundle('tiny-el'), '--out', join(dir, 'dup-bundle')]);
    expect(built.code).toBe(1);
    expect(built.stderr).toMatch(/IndexError: duplicate id "x" \(first on line 1\) \(.*dup\.jsonl:2\)/);
  });
});

/** (subject text, relation, object text) of a JSON result. */
function tripletTexts(json: string): (string | undefined)[][] {
  const result = JSON.parse(json) as { spans: { text: string }[]; triplets: { subject: number; relation: string; object: number }[] };
  return result.triplets.map((t) => [result.spans[t.subject]?.text, t.relation, result.spans[t.object]?.text]);
}

describe('the default bundle (models/default), as in the README', () => {
  it('loads, links the README example to the KB and extracts its triplets', async () => {
    const text = 'Lee Harvey Oswald shot President John F. Kennedy in Dallas, Texas.';
    const out = await relik(['annotate', '--format', 'json', text]);
    expect(out.code, out.stderr).toBe(0);
    const triplets = tripletTexts(out.stdout);
    expect(triplets).toContainEqual(['Lee Harvey Oswald', 'Kill', 'President John F. Kennedy']);
    expect(triplets).toContainEqual(['Dallas', 'Located_In', 'Texas']);
    type Span = { text: string; id: string | null; belowThreshold?: { id: string } };
    const spans = (JSON.parse(out.stdout) as { spans: Span[] }).spans;
    expect(spans.map((s) => [s.text, s.id])).toEqual([
      ['Lee Harvey Oswald', null],
      ['President John F. Kennedy', 'wiki:John F. Kennedy'],
      ['Dallas', 'wiki:Dallas'],
      ['Texas', 'wiki:Texas'],
    ]);
    // Oswald is not in the KB: the reader's wrong link (0.76) is below the bundle's link threshold and shown beside it.
    expect(spans[0]?.belowThreshold?.id).toBe('wiki:John F. Kennedy');
  });

  it('the link threshold: below it a link is NME and kept as belowThreshold; --link-threshold 0 links it', async () => {
    const text = 'John Wilkes Booth, who assassinated President Lincoln, was an actor.';
    type Span = { text: string; id: string | null; score: number; belowThreshold?: { id: string; score: number } };
    const spansOf = async (args: string[]): Promise<Span[]> => {
      const out = await relik(['annotate', '--format', 'json', ...args, text]);
      expect(out.code, out.stderr).toBe(0);
      expect(tripletTexts(out.stdout)).toContainEqual(['John Wilkes Booth', 'Kill', 'President Lincoln']);
      return (JSON.parse(out.stdout) as { spans: Span[] }).spans;
    };
    const lincoln = (spans: Span[]): Span | undefined => spans.find((s) => s.text === 'President Lincoln');
    const thresholded = lincoln(await spansOf([]));
    const all = lincoln(await spansOf(['--link-threshold', '0']));
    expect(all).toMatchObject({ id: 'wiki:Abraham Lincoln' });
    expect(all?.belowThreshold).toBeUndefined();
    expect(thresholded).toMatchObject({ id: null, belowThreshold: { id: 'wiki:Abraham Lincoln', score: all?.score } });
    const bad = await relik(['annotate', '--link-threshold', '1', text]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--link-threshold must be/);
  });

  it('reads a multi-sentence text one sentence at a time and relates within each sentence', async () => {
    const text = 'John Wilkes Booth, who assassinated President Lincoln, was an actor. Rome is the capital of Italy.';
    const out = await relik(['annotate', '--format', 'json', text]);
    expect(out.code, out.stderr).toBe(0);
    const triplets = tripletTexts(out.stdout);
    expect(triplets).toContainEqual(['John Wilkes Booth', 'Kill', 'President Lincoln']);
    expect(triplets).toContainEqual(['Rome', 'Located_In', 'Italy']);
    const ids = (JSON.parse(out.stdout) as { spans: { id: string | null }[] }).spans.map((s) => s.id);
    expect(ids).toEqual(expect.arrayContaining(['wiki:Rome', 'wiki:Italy']));
  });
});
