/**
 * Resumable corpus annotation: JSONL in, JSONL out, one output line per input document (blank input
 * lines are not documents), in input order. After a crash, a rerun with `resume` keeps the complete
 * output lines, cuts a partial last line, skips that many input documents and appends the rest: no
 * document is lost or written twice.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { AnnotateInput, AnnotateOptions, RelikResult } from '../types.js';
import type { Progress } from './progress.js';

/** The output cannot continue the input (wrong file, or output exists without resume). */
export class CorpusError extends RangeError {
  override readonly name = 'CorpusError';
}

/** One input document: its raw JSONL line and its 1-based line number in the input file. */
export interface CorpusDocument {
  readonly line: string;
  readonly lineNumber: number;
}

/** What `annotateCorpus` reads, writes and calls. */
export interface CorpusOptions {
  /** Input JSONL path. */
  readonly input: string;
  /** Output JSONL path (created if missing). */
  readonly output: string;
  /** Continue an earlier run's output; without it, a non-empty output is an error. */
  readonly resume: boolean;
  /** Documents per `annotate` call (default 8). */
  readonly batchSize?: number;
  /**
   * Annotates a batch: returns exactly one output line (JSON, no newline) per document, in order. Put
   * per-document failures in the line (an error record) rather than throwing: a throw stops the run,
   * and a rerun with `resume` retries from the first document of the failed batch.
   */
  readonly annotate: (documents: readonly CorpusDocument[]) => Promise<readonly string[]>;
  /**
   * The id of a document as it appears in the `id` field of its output line. With it, resuming checks
   * that the last kept output line belongs to the matching input document (guards against the wrong file).
   */
  readonly idOf?: (document: CorpusDocument) => string;
  /** Called after every batch (and once at the start). */
  readonly onProgress?: (progress: Progress) => void;
}

/** What a run did. */
export interface CorpusSummary {
  /** Documents in the input. */
  readonly total: number;
  /** Documents already in the output before this run (resume). */
  readonly skipped: number;
  /** Documents annotated by this run. */
  readonly annotated: number;
  /** Bytes of a partial last output line that were cut on resume. */
  readonly truncatedBytes: number;
  /** Seconds this run took. */
  readonly seconds: number;
  /** Documents per second of this run. */
  readonly docsPerSecond: number;
  /** Input characters (of the annotated JSONL lines) per second. */
  readonly charsPerSecond: number;
}

/** Complete lines of an output file, and the byte length that holds exactly them. */
export interface OutputState {
  readonly completeLines: number;
  /** Length of the file up to and including its last newline. */
  readonly validBytes: number;
  /** Current file size (0 when missing). */
  readonly size: number;
  /** The last complete line's text (for the id check), or undefined. */
  readonly lastLine: string | undefined;
}

const NEWLINE = 0x0a;

/** Counts the complete (newline-terminated) lines of a file without loading it whole. */
export async function inspectOutput(path: string): Promise<OutputState> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { completeLines: 0, validBytes: 0, size: 0, lastLine: undefined };
    throw error;
  }
  let completeLines = 0;
  let validBytes = 0;
  let offset = 0;
  let previousEnd = 0;
  let lastLineStart = 0;
  for await (const chunk of createReadStream(path, { start: 0, end: Math.max(0, size - 1), highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    if (size === 0) break;
    let at = chunk.indexOf(NEWLINE);
    while (at >= 0) {
      completeLines += 1;
      lastLineStart = previousEnd;
      previousEnd = offset + at + 1;
      validBytes = previousEnd;
      at = chunk.indexOf(NEWLINE, at + 1);
    }
    offset += chunk.length;
  }
  let lastLine: string | undefined;
  if (completeLines > 0) {
    const handle = await open(path, 'r');
    try {
      const length = validBytes - 1 - lastLineStart;
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, lastLineStart);
      lastLine = buffer.toString('utf8');
    } finally {
      await handle.close();
    }
  }
  return { completeLines, validBytes, size, lastLine };
}

/** Yields the documents (non-blank lines) of a JSONL file with their line numbers. */
export async function* readDocuments(path: string): AsyncGenerator<CorpusDocument> {
  let lineNumber = 0;
  for await (const line of createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity })) {
    lineNumber += 1;
    if (line.trim() !== '') yield { line, lineNumber };
  }
}

/** Number of documents in a JSONL file. */
export async function countDocuments(path: string): Promise<number> {
  let n = 0;
  for await (const _ of readDocuments(path)) n += 1;
  return n;
}

function idInLine(line: string): string | undefined {
  try {
    const value = JSON.parse(line) as { id?: unknown };
    return typeof value === 'object' && value !== null && (typeof value.id === 'string' || typeof value.id === 'number') ? String(value.id) : undefined;
  } catch {
    return undefined;
  }
}

/** Annotates `input` into `output`, resuming when asked. See the module comment for the guarantees. */
export async function annotateCorpus(options: CorpusOptions): Promise<CorpusSummary> {
  const batchSize = options.batchSize ?? 8;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be an integer >= 1, got ${batchSize}`);
  const started = performance.now();
  const total = await countDocuments(options.input);
  const state = await inspectOutput(options.output);
  if (!options.resume && state.size > 0) {
    throw new CorpusError(`${options.output} already has ${state.completeLines} records; pass --resume to continue it, or choose a new output file`);
  }
  if (state.completeLines > total) {
    throw new CorpusError(`${options.output} has ${state.completeLines} records but ${options.input} has only ${total} documents; is it the output of another input?`);
  }

  const handle = await open(options.output, 'a+');
  let annotated = 0;
  let chars = 0;
  try {
    // Cut a partial last line (the run stopped in the middle of a write).
    const truncatedBytes = state.size - state.validBytes;
    if (truncatedBytes > 0) await handle.truncate(state.validBytes);
    const skip = state.completeLines;
    const progress = (): Progress => ({ done: skip + annotated, total, annotated, elapsedMs: performance.now() - started });
    options.onProgress?.(progress());

    let index = 0;
    let batch: CorpusDocument[] = [];
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const lines = await options.annotate(batch);
      if (lines.length !== batch.length) throw new RangeError(`annotate returned ${lines.length} lines for ${batch.length} documents`);
      const text = lines.map((line, i) => {
        if (line.includes('\n')) throw new RangeError(`annotate returned a line with a newline for input line ${(batch[i] as CorpusDocument).lineNumber}`);
        return `${line}\n`;
      }).join('');
      await handle.write(text); // the whole batch in one write: a crash leaves at most one partial line at the end
      annotated += batch.length;
      chars += batch.reduce((sum, d) => sum + d.line.length, 0);
      batch = [];
      options.onProgress?.(progress());
    };
    for await (const document of readDocuments(options.input)) {
      index += 1;
      if (index <= skip) {
        if (index === skip && options.idOf !== undefined && state.lastLine !== undefined) {
          const expected = options.idOf(document);
          const found = idInLine(state.lastLine);
          if (found !== undefined && found !== expected) {
            throw new CorpusError(`${options.output} does not continue ${options.input}: record ${skip} has id ${JSON.stringify(found)}, input document ${skip} has id ${JSON.stringify(expected)}`);
          }
        }
        continue;
      }
      batch.push(document);
      if (batch.length >= batchSize) await flush();
    }
    await flush();
    const seconds = (performance.now() - started) / 1000;
    return {
      total,
      skipped: skip,
      annotated,
      truncatedBytes,
      seconds,
      docsPerSecond: seconds > 0 ? annotated / seconds : 0,
      charsPerSecond: seconds > 0 ? chars / seconds : 0,
    };
  } finally {
    await handle.close();
  }
}

/** A one-line report of a run, e.g. for stderr at the end of `relik annotate --output`. */
export function formatSummary(summary: CorpusSummary): string {
  const resumed = summary.skipped > 0 ? `, ${summary.skipped} already done` : '';
  const cut = summary.truncatedBytes > 0 ? `, cut a partial last line of ${summary.truncatedBytes} bytes` : '';
  return `annotated ${summary.annotated} of ${summary.total} documents in ${summary.seconds.toFixed(1)}s (${summary.docsPerSecond.toFixed(1)} docs/s, ${Math.round(summary.charsPerSecond)} chars/s${resumed}${cut})`;
}

/** A parsed JSONL line: a document to annotate, or the reason it cannot be (reported, never fatal). */
export interface ParsedLine {
  readonly id: string;
  readonly input?: AnnotateInput;
  readonly error?: string;
}

/** The per-batch function for `annotateCorpus`, and how many error records it has written. */
export interface BatchAnnotator {
  readonly annotate: (documents: readonly CorpusDocument[]) => Promise<string[]>;
  /** Error records written so far (bad lines and failed documents). */
  readonly failures: number;
}

/**
 * Builds the `annotate` function of `annotateCorpus` from a batch annotator (e.g. `relik.annotate`): each
 * line becomes `{"id", ...result}`, or `{"id", "error": {"type", "message"}}` when the line cannot be parsed
 * or its document fails (a failing batch is retried document by document, so one bad document costs only
 * its own line).
 */
export function batchAnnotator(
  annotate: (inputs: readonly AnnotateInput[], options: AnnotateOptions) => Promise<RelikResult[]>,
  options: AnnotateOptions,
  parse: (line: string, lineNumber: number) => ParsedLine,
): BatchAnnotator {
  let failures = 0;
  const failure = (id: string, type: string, message: string): string => {
    failures += 1;
    return JSON.stringify({ id, error: { type, message } });
  };
  const run = async (documents: readonly CorpusDocument[]): Promise<string[]> => {
    const parsed = documents.map((d) => parse(d.line, d.lineNumber));
    const good = parsed.filter((p) => p.input !== undefined);
    let results: RelikResult[] | undefined;
    try {
      results = await annotate(good.map((p) => p.input as AnnotateInput), options);
    } catch {
      results = undefined;
    }
    const lines: string[] = [];
    let k = 0;
    for (const p of parsed) {
      if (p.input === undefined) {
        lines.push(failure(p.id, 'SyntaxError', p.error ?? 'not a document'));
        continue;
      }
      try {
        const result = results !== undefined ? (results[k++] as RelikResult) : ((await annotate([p.input], options))[0] as RelikResult);
        lines.push(JSON.stringify({ id: p.id, ...result }));
      } catch (error) {
        const e = error instanceof Error ? error : new Error(String(error));
        lines.push(failure(p.id, e.name, e.message));
      }
    }
    return lines;
  };
  return {
    annotate: run,
    get failures() {
      return failures;
    },
  };
}
