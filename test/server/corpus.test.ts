/** Resumable corpus annotation: crash at any point, rerun with resume, get every document exactly once. */
import { mkdtemp, readFile, rm, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CorpusError, annotateCorpus, batchAnnotator, formatSummary, inspectOutput, type CorpusDocument, type ParsedLine } from '../../src/server/corpus.js';
import type { AnnotateInput, RelikResult } from '../../src/types.js';
import { ProgressBar, formatProgress, type Progress } from '../../src/server/progress.js';
import { bundle, ensureBuilt, relikModule } from './helpers.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'relik-corpus-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const idOf = (d: CorpusDocument): string => (JSON.parse(d.line) as { id: string }).id;
/** Echoes each document's id and text; throws when it meets `crashAt` (simulating a crash mid-run). */
const echo = (crashAt?: string) => async (docs: readonly CorpusDocument[]): Promise<string[]> =>
  docs.map((d) => {
    const { id, text } = JSON.parse(d.line) as { id: string; text: string };
    if (id === crashAt) throw new Error(`crash at ${id}`);
    return JSON.stringify({ id, length: text.length });
  });

async function writeInput(n: number, blankEvery = 4): Promise<string> {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    lines.push(JSON.stringify({ id: `d${i}`, text: `Document ${i} mentions Paris.` }));
    if (i % blankEvery === blankEvery - 1) lines.push(''); // blank lines are not documents
  }
  const path = join(dir, 'in.jsonl');
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}

const outputIds = async (path: string): Promise<string[]> =>
  (await readFile(path, 'utf8')).split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { id: string }).id);

describe('annotateCorpus', () => {
  it('writes one line per document in input order and reports throughput', async () => {
    const input = await writeInput(10);
    const output = join(dir, 'out.jsonl');
    const seen: Progress[] = [];
    const summary = await annotateCorpus({ input, output, resume: false, batchSize: 3, annotate: echo(), onProgress: (p) => seen.push(p) });
    expect(await outputIds(output)).toEqual(Array.from({ length: 10 }, (_, i) => `d${i}`));
    expect(summary).toMatchObject({ total: 10, skipped: 0, annotated: 10, truncatedBytes: 0 });
    expect(summary.docsPerSecond).toBeGreaterThan(0);
    expect(seen.map((p) => p.done)).toEqual([0, 3, 6, 9, 10]);
    expect(formatSummary(summary)).toMatch(/^annotated 10 of 10 documents in \d+\.\ds \([\d.]+ docs\/s, \d+ chars\/s\)$/);
  });

  it('resumes after a crash and a partial last line: no document lost or duplicated', async () => {
    const input = await writeInput(11);
    const output = join(dir, 'out.jsonl');
    await expect(annotateCorpus({ input, output, resume: false, batchSize: 4, annotate: echo('d6') })).rejects.toThrow('crash at d6');
    expect(await outputIds(output)).toEqual(['d0', 'd1', 'd2', 'd3']);
    // The process died in the middle of writing the next record.
    await appendFile(output, '{"id":"d4","len');
    expect(await inspectOutput(output)).toMatchObject({ completeLines: 4, lastLine: '{"id":"d3","length":26}' });
    const summary = await annotateCorpus({ input, output, resume: true, batchSize: 4, annotate: echo(), idOf });
    expect(summary).toMatchObject({ total: 11, skipped: 4, annotated: 7, truncatedBytes: '{"id":"d4","len'.length });
    expect(await outputIds(output)).toEqual(Array.from({ length: 11 }, (_, i) => `d${i}`));
    // Resuming a finished run does nothing.
    const again = await annotateCorpus({ input, output, resume: true, annotate: echo(), idOf });
    expect(again).toMatchObject({ skipped: 11, annotated: 0 });
    expect(await outputIds(output)).toHaveLength(11);
  });

  it('refuses to overwrite without resume, and refuses output that does not belong to the input', async () => {
    const input = await writeInput(3);
    const output = join(dir, 'out.jsonl');
    await writeFile(output, '{"id":"other"}\n');
    await expect(annotateCorpus({ input, output, resume: false, annotate: echo() })).rejects.toThrow(/already has 1 records; pass --resume/);
    await expect(annotateCorpus({ input, output, resume: true, annotate: echo(), idOf })).rejects.toThrow(CorpusError);
    await writeFile(output, '{"id":"d0"}\n{"id":"d1"}\n{"id":"d2"}\n{"id":"d3"}\n');
    await expect(annotateCorpus({ input, output, resume: true, annotate: echo() })).rejects.toThrow(/has 4 records but .* has only 3 documents/);
  });

  it('rejects an annotate function that returns the wrong number of lines', async () => {
    const input = await writeInput(2);
    await expect(annotateCorpus({ input, output: join(dir, 'o.jsonl'), resume: false, annotate: async () => ['{}'] })).rejects.toThrow(/returned 1 lines for 2 documents/);
  });

  it('gives the same output as an uninterrupted run with the real model', async () => {
    await ensureBuilt();
    const { Relik } = await relikModule();
    const relik = await Relik.load(bundle('tiny-re'), { threads: 1 });
    try {
      const input = await writeInput(9);
      const annotate = (crashAfter: number) => {
        let calls = 0;
        return async (docs: readonly CorpusDocument[]): Promise<string[]> => {
          if (++calls > crashAfter) throw new Error('killed');
          const parsed = docs.map((d) => JSON.parse(d.line) as { id: string; text: string });
          const results = await relik.annotate(parsed.map((p) => p.text));
          return results.map((r, i) => JSON.stringify({ id: parsed[i]?.id, ...r }));
        };
      };
      const straight = join(dir, 'straight.jsonl');
      await annotateCorpus({ input, output: straight, resume: false, batchSize: 2, annotate: annotate(Infinity) });
      const resumed = join(dir, 'resumed.jsonl');
      await expect(annotateCorpus({ input, output: resumed, resume: false, batchSize: 2, annotate: annotate(2) })).rejects.toThrow('killed');
      await annotateCorpus({ input, output: resumed, resume: true, batchSize: 2, annotate: annotate(Infinity), idOf });
      expect(await readFile(resumed, 'utf8')).toBe(await readFile(straight, 'utf8'));
    } finally {
      await relik.close();
    }
  });
});

describe('batchAnnotator', () => {
  const parse = (line: string, lineNumber: number): ParsedLine => {
    try {
      const v = JSON.parse(line) as { id: string; text: string };
      return { id: v.id, input: v.text };
    } catch {
      return { id: String(lineNumber), error: `line ${lineNumber}: invalid JSON` };
    }
  };
  const fake = async (inputs: readonly AnnotateInput[]): Promise<RelikResult[]> => {
    if (inputs.includes('')) throw new RangeError('texts[0] is empty');
    return inputs.map((text) => ({ text: String(text), spans: [], triplets: [], truncation: { patchedWindows: 0, droppedCandidates: 0, truncatedCandidateTitles: 0, splitWindows: 0, droppedMentions: 0 } }));
  };

  it('gives one line per document: results, and error records for bad lines and failing documents', async () => {
    const batch = batchAnnotator(fake, {}, parse);
    const lines = await batch.annotate([
      { line: '{"id":"a","text":"Ada"}', lineNumber: 1 },
      { line: 'not json', lineNumber: 2 },
      { line: '{"id":"c","text":""}', lineNumber: 3 },
      { line: '{"id":"d","text":"Oslo"}', lineNumber: 4 },
    ]);
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual([
      expect.objectContaining({ id: 'a', text: 'Ada' }),
      { id: '2', error: { type: 'SyntaxError', message: 'line 2: invalid JSON' } },
      { id: 'c', error: { type: 'RangeError', message: 'texts[0] is empty' } },
      expect.objectContaining({ id: 'd', text: 'Oslo' }),
    ]);
    expect(batch.failures).toBe(2);
  });
});

describe('progress', () => {
  it('formats a bar with counts, rate and ETA', () => {
    expect(formatProgress({ done: 50, total: 200, annotated: 40, elapsedMs: 4_000 }, 10)).toBe('[###-------]  25% 50/200 docs  10.0 docs/s  ETA 15s');
    expect(formatProgress({ done: 200, total: 200, annotated: 200, elapsedMs: 2_000 }, 4)).toBe('[####] 100% 200/200 docs  100.0 docs/s  ETA 0s');
  });

  it('redraws in place on a terminal, throttled, and ends the line', () => {
    const chunks: string[] = [];
    let now = 0;
    const stream = Object.assign({ write: (s: string) => (chunks.push(s), true) }, { isTTY: true }) as unknown as NodeJS.WritableStream & { isTTY: boolean };
    const bar = new ProgressBar(stream, () => now);
    bar.update({ done: 1, total: 10, annotated: 1, elapsedMs: 10 });
    now = 50;
    bar.update({ done: 2, total: 10, annotated: 2, elapsedMs: 60 }); // throttled
    now = 200;
    bar.update({ done: 10, total: 10, annotated: 10, elapsedMs: 200 });
    bar.finish();
    expect(chunks).toHaveLength(3);
    expect(chunks[0]).toMatch(/^\r\[/);
    expect(chunks[1]).toContain('10/10 docs');
    expect(chunks[2]).toBe('\n');
  });
});
