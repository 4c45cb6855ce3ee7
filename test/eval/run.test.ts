import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { documentToJsonl, type EvalDocument } from '../../src/data/schema.js';
import { formatProgress, progressReporter } from '../../src/eval/progress.js';
import { runEvalWith, type LoadedBundle } from '../../src/eval/run.js';
import { SHARED_ROOT } from '../data/shared-root.js';
import { oracle } from './fake-annotator.js';

class Sink extends Writable {
  text = '';
  isTTY = false;
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

const docs: EvalDocument[] = [
  { id: 'a', text: 'Rome is in Italy', spans: [{ start: 0, end: 4, label: 'Rome' }, { start: 11, end: 16, label: 'Italy' }], triplets: [{ subject: 0, relation: 'country', object: 1 }] },
  { id: 'b', text: 'Paris', spans: [{ start: 0, end: 5, label: 'Paris' }], triplets: [] },
  { id: 'c', text: 'Oslo', spans: [{ start: 0, end: 4, label: 'Oslo' }], triplets: [] },
];

function setup(bundleTask: 'el' | 're' | 'cie' = 'cie') {
  const dir = mkdtempSync(join(tmpdir(), 'relik-eval-cli-'));
  const file = join(dir, 'mine.jsonl');
  writeFileSync(file, docs.map(documentToJsonl).join('\n') + '\n');
  // Perfect predictions except for document "c", where nothing is predicted.
  const annotator = oracle(docs.map((d) => (d.id === 'c' ? { ...d, spans: [], triplets: [] } : d)));
  const loaded: string[] = [];
  let closed = false;
  const bundle: LoadedBundle = {
    name: 'fake-bundle',
    task: bundleTask,
    entityCount: 42,
    annotate: (inputs, options) => annotator.annotate(inputs, options),
    close: async () => {
      closed = true;
    },
  };
  const load = async (d: string): Promise<LoadedBundle> => {
    loaded.push(d);
    return bundle;
  };
  return { dir, file, load, loaded, isClosed: () => closed };
}

describe('relik eval command', () => {
  it('evaluates a user JSONL file, prints a table, writes the report and the errors', async () => {
    const { dir, file, load, loaded, isClosed } = setup();
    const stdout = new Sink();
    const stderr = new Sink();
    const out = join(dir, 'report.json');
    const errors = join(dir, 'errors.jsonl');
    const code = await runEvalWith(['models/x', file, '--out', out, '--errors', errors, '--batch-size', '2'], { stdout, stderr }, load);
    expect(stderr.text).not.toMatch(/relik eval:/);
    expect(code).toBe(0);
    expect(loaded).toEqual(['models/x']);
    expect(isClosed()).toBe(true);
    expect(stdout.text).toMatch(/EL InKB strong\s+100\.00\s+75\.00\s+85\.71\s+3\s+0\s+1/);
    expect(stdout.text).toMatch(/KB 42 entities/);
    const report = JSON.parse(readFileSync(out, 'utf8'));
    expect(report).toMatchObject({ bundle: 'fake-bundle', kbSize: 42, counts: { documents: 3 } });
    expect(report.metrics.re.strict.f1).toBe(1);
    const errorLines = readFileSync(errors, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(errorLines).toEqual([
      {
        id: 'c',
        mentions: { falsePositives: [], falseNegatives: [{ start: 0, end: 4, text: 'Oslo', entity: 'Oslo' }] },
        el: { falsePositives: [], falseNegatives: [{ start: 0, end: 4, text: 'Oslo', entity: 'Oslo' }] },
      },
    ]);
    // not a TTY: periodic progress lines
    expect(stderr.text).toMatch(/3\/3 docs \(100\.0%\)/);
  });

  it('honours --limit and a leading "eval"', async () => {
    const { file, load } = setup();
    const stdout = new Sink();
    const stderr = new Sink();
    expect(await runEvalWith(['eval', 'b', file, '--limit', '1'], { stdout, stderr }, load)).toBe(0);
    expect(stdout.text).toMatch(/^1 documents/m);
  });

  it('passes --threshold and the name lookup flags to every annotate call', async () => {
    const { file, load } = setup();
    const seen: unknown[] = [];
    const recording = async (d: string): Promise<LoadedBundle> => {
      const bundle = await load(d);
      return { ...bundle, annotate: (inputs, options) => (seen.push(options), bundle.annotate(inputs, options)) };
    };
    const argv = ['b', file, '--threshold', '0.3', '--link-threshold', '0.7', '--alias-top-k', '0', '--alias-prior-weight', '0.5', '--relations-per-pair', '1', '--batch-size', '2'];
    expect(await runEvalWith(argv, { stdout: new Sink(), stderr: new Sink() }, recording)).toBe(0);
    expect(seen.length).toBe(2);
    for (const options of seen) expect(options).toMatchObject({ relationThreshold: 0.3, linkThreshold: 0.7, aliasTopK: 0, aliasPriorWeight: 0.5, relationsPerPair: 1 });
  });

  it('lists the known datasets for an unknown name (exit code 2)', async () => {
    const { load, loaded } = setup();
    const stderr = new Sink();
    const code = await runEvalWith(['b', 'conll05:test'], { stdout: new Sink(), stderr }, load);
    expect(code).toBe(2);
    expect(stderr.text).toMatch(/unknown dataset "conll05:test"; dataset must be one of: conll04:train, conll04:dev, conll04:test, webnlg:train/);
    expect(stderr.text).toMatch(/aida:testb/);
    expect(loaded).toEqual([]);
  });

  it.each([
    [['b'], /expected <bundle> <dataset>, got 1 positional/],
    [['b', 'x.jsonl', '--limit', 'ten'], /--limit must be an integer >= 0, got "ten"/],
    [['b', 'x.jsonl', '--batch-size', '0'], /--batch-size must be an integer >= 1, got "0"/],
    [['b', 'x.jsonl', '--task', 'ner'], /--task must be one of el, re, cie, got "ner"/],
    [['b', 'x.jsonl', '--bogus'], /Unknown option '--bogus'/],
    [['b', 'x.jsonl', '--threshold', '1'], /--threshold must be a number in \[0, 1\), got "1"/],
    [['b', 'x.jsonl', '--threshold', 'high'], /--threshold must be a number in \[0, 1\), got "high"/],
    [['b', 'x.jsonl', '--relations-per-pair', 'one'], /--relations-per-pair must be an integer >= 0, got "one"/],
    [['b', 'x.jsonl', '--link-threshold', '1.5'], /--link-threshold must be a number in \[0, 1\), got "1.5"/],
    [['b', 'x.jsonl', '--link-threshold-sweep', '--link-threshold', '0.5'], /--link-threshold-sweep annotates at link threshold 0; drop --link-threshold/],
  ])('rejects %j with a usage error', async (argv, message) => {
    const stderr = new Sink();
    expect(await runEvalWith(argv, { stdout: new Sink(), stderr }, setup().load)).toBe(2);
    expect(stderr.text).toMatch(message);
  });

  it('reports a failing run with exit code 1', async () => {
    const stderr = new Sink();
    const code = await runEvalWith(['b', '/nonexistent/none.jsonl'], { stdout: new Sink(), stderr }, setup().load);
    expect(code).toBe(1);
    expect(stderr.text).toMatch(/dataset \/nonexistent\/none\.jsonl not found/);
  });

  it.skipIf(!SHARED_ROOT)('rejects an RE bundle on an EL dataset', async () => {
    const stderr = new Sink();
    const code = await runEvalWith(['b', 'aida:testb', '--data-root', SHARED_ROOT as string, '--limit', '2'], { stdout: new Sink(), stderr }, setup('re').load);
    expect(code).toBe(1);
    expect(stderr.text).toMatch(/a bundle with task "re" cannot be evaluated on an el dataset/);
  });

  it('prints help with the dataset names', async () => {
    const stdout = new Sink();
    expect(await runEvalWith(['--help'], { stdout, stderr: new Sink() }, setup().load)).toBe(0);
    expect(stdout.text).toMatch(/usage: relik eval <bundle> <dataset>/);
    expect(stdout.text).toMatch(/datasets: .*rebel:sample/);
  });
});

describe('progress', () => {
  it('formats done/total, rate and ETA', () => {
    expect(formatProgress({ done: 50, total: 200, elapsedSeconds: 10 })).toBe('50/200 docs (25.0%)  5.00 docs/s  ETA 30 s');
    expect(formatProgress({ done: 5, total: null, elapsedSeconds: 0 })).toBe('5 docs  0.00 docs/s');
  });

  it('rewrites one line on a TTY and prints every 10% otherwise', () => {
    const tty = new Sink();
    const r = progressReporter(tty, true);
    r.update({ done: 1, total: 100, elapsedSeconds: 1 });
    r.update({ done: 2, total: 100, elapsedSeconds: 2 });
    r.finish();
    expect(tty.text.split('\r').length).toBe(3);
    expect(tty.text.endsWith('\n')).toBe(true);
    const log = new Sink();
    const p = progressReporter(log, false);
    for (let done = 1; done <= 100; done++) p.update({ done, total: 100, elapsedSeconds: done / 100 });
    p.finish();
    expect(log.text.trim().split('\n').length).toBe(10);
  });
});
