import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Relik } from '../relik.js';
import { annotateCorpus, batchAnnotator, formatSummary } from '../server/corpus.js';
import { ProgressBar } from '../server/progress.js';
import type { AnnotateInput, AnnotateOptions, RelikResult } from '../types.js';
import { bundleFrom } from './bundle-path.js';
import { formatResult } from './format.js';
import { UsageError, parseIntegerFlag, parseNumberFlag, write, type CliIO } from './io.js';

export const ANNOTATE_HELP = `Usage: relik annotate [TEXT...] [options]

Annotates texts with entity links and relation triplets.
Input (first that applies): TEXT arguments (one document each), --file (one plain-text document),
--input (JSONL), or JSONL on stdin. A JSONL line is {"id"?, "text", "words"?} or a JSON string.
Output: human-readable on a terminal, JSONL otherwise (--format to choose).

Options:
  --bundle DIR            model bundle (default: $RELIK_BUNDLE or the bundled models/default)
  --file PATH             annotate the whole file as one document
  --input PATH            JSONL documents (default: stdin when it is not a terminal)
  --output PATH           with --input: write JSONL results there, with a progress bar and throughput
  --resume                continue an interrupted --output run where it stopped
  --format text|json|jsonl
  --batch-size N          documents per batch in JSONL mode (default 8)
  --top-k N               entity candidates per window
  --alias-top-k N         of those, how many may be entries the window names (KB titles, aliases); 0 = off
  --alias-prior-weight W  weight of p(entity | mention text) from names in linking; 0 = the reader alone
  --link-threshold P      links less probable than P are NME, in [0, 1) (default: the bundle's; 0 = all)
  --relation-top-k N      relation candidates per window
  --window-size N, --window-stride N
  --window-strategy words|sentences
  --threshold P           relation threshold in [0, 1)
  --relations-per-pair N  relations kept per ordered mention pair, best first; 0 = all (default: the bundle's)
  --task el|re|cie        narrow a cie bundle to one task
  --candidates            include retrieved candidates per window
  --keep-nme              keep mentions not linked to the KB
  --doc-topic             give the retriever the document's first word as topic
  --threads N             ONNX threads
  -h, --help`;

function annotateOptions(values: Record<string, string | boolean | undefined>): AnnotateOptions {
  const str = (k: string): string | undefined => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const task = str('task');
  const strategy = str('window-strategy');
  if (strategy !== undefined && strategy !== 'words' && strategy !== 'sentences') throw new UsageError(`--window-strategy must be words or sentences, got ${JSON.stringify(strategy)}`);
  if (task !== undefined && !['el', 're', 'cie'].includes(task)) throw new UsageError(`--task must be one of el, re, cie, got ${JSON.stringify(task)}`);
  const entries: [keyof AnnotateOptions, unknown][] = [
    ['topK', parseIntegerFlag('top-k', str('top-k'))],
    ['aliasTopK', parseIntegerFlag('alias-top-k', str('alias-top-k'), 0)],
    ['aliasPriorWeight', parseNumberFlag('alias-prior-weight', str('alias-prior-weight'), 0, 1000)],
    ['linkThreshold', parseNumberFlag('link-threshold', str('link-threshold'), 0, 0.999999)],
    ['relationTopK', parseIntegerFlag('relation-top-k', str('relation-top-k'))],
    ['windowSize', parseIntegerFlag('window-size', str('window-size'))],
    ['windowStride', parseIntegerFlag('window-stride', str('window-stride'))],
    ['windowStrategy', strategy],
    ['relationThreshold', parseNumberFlag('threshold', str('threshold'), 0, 0.999999)],
    ['relationsPerPair', parseIntegerFlag('relations-per-pair', str('relations-per-pair'), 0)],
    ['task', task],
    ['returnCandidates', values.candidates === true ? true : undefined],
    ['returnWindows', values.candidates === true ? true : undefined],
    ['keepNme', values['keep-nme'] === true ? true : undefined],
    ['useDocTopic', values['doc-topic'] === true ? true : undefined],
  ];
  return Object.fromEntries(entries.filter(([, v]) => v !== undefined)) as AnnotateOptions;
}

interface JsonlDocument {
  readonly id: string;
  readonly input?: AnnotateInput;
  readonly error?: string;
}

/** Parses one JSONL line into a document (or a per-line error that is reported, never fatal). */
export function parseDocumentLine(line: string, lineNumber: number): JsonlDocument {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return { id: String(lineNumber), error: `line ${lineNumber}: invalid JSON (${(error as Error).message})` };
  }
  if (typeof value === 'string') return { id: String(lineNumber), input: value };
  if (typeof value !== 'object' || value === null || typeof (value as { text?: unknown }).text !== 'string') {
    return { id: String(lineNumber), error: `line ${lineNumber}: expected {"text": string} or a JSON string` };
  }
  const record = value as { id?: unknown; text: string; words?: AnnotateInput extends string ? never : unknown };
  const id = typeof record.id === 'string' || typeof record.id === 'number' ? String(record.id) : String(lineNumber);
  return { id, input: record.words === undefined ? record.text : ({ text: record.text, words: record.words } as AnnotateInput) };
}

function errorRecord(id: string, error: unknown): string {
  const e = error instanceof Error ? error : new Error(String(error));
  return `${JSON.stringify({ id, error: { type: e.name, message: e.message } })}\n`;
}

async function* lines(stream: NodeJS.ReadableStream): AsyncGenerator<string> {
  for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) yield line;
}

/** `relik annotate`: returns the exit code (0 ok, 1 some documents failed, 2 usage). */
export async function runAnnotate(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      bundle: { type: 'string' }, file: { type: 'string' }, input: { type: 'string' }, format: { type: 'string' },
      'batch-size': { type: 'string' }, 'top-k': { type: 'string' }, 'relation-top-k': { type: 'string' },
      'alias-top-k': { type: 'string' }, 'alias-prior-weight': { type: 'string' }, 'link-threshold': { type: 'string' },
      'window-size': { type: 'string' }, 'window-stride': { type: 'string' }, 'window-strategy': { type: 'string' }, threshold: { type: 'string' }, 'relations-per-pair': { type: 'string' }, task: { type: 'string' },
      output: { type: 'string' }, resume: { type: 'boolean' },
      candidates: { type: 'boolean' }, 'keep-nme': { type: 'boolean' }, 'doc-topic': { type: 'boolean' }, threads: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    await write(io.stdout, `${ANNOTATE_HELP}\n`);
    return 0;
  }
  const format = values.format ?? (io.stdout.isTTY ? 'text' : 'jsonl');
  if (!['text', 'json', 'jsonl'].includes(format)) throw new UsageError(`--format must be one of text, json, jsonl, got ${JSON.stringify(format)}`);
  const options = annotateOptions(values);
  const batchSize = parseIntegerFlag('batch-size', values['batch-size']) ?? 8;
  const threads = parseIntegerFlag('threads', values.threads);

  let direct: AnnotateInput[] | undefined;
  if (positionals.length > 0) direct = positionals;
  else if (values.file !== undefined) direct = [await readFile(values.file, 'utf8')];
  else if (values.input === undefined && io.stdin.isTTY) throw new UsageError('give a TEXT, --file, --input, or JSONL on stdin');

  if (values.resume === true && values.output === undefined) throw new UsageError('--resume needs --output');
  if (values.output !== undefined && values.input === undefined) throw new UsageError('--output needs --input (a JSONL file)');

  const relik = await Relik.load(bundleFrom(values.bundle), threads === undefined ? {} : { threads });
  try {
    if (values.output !== undefined && values.input !== undefined) {
      // Corpus mode: a progress bar, throughput, and --resume after a crash (no document lost or repeated).
      const bar = new ProgressBar(io.stderr);
      const batch = batchAnnotator((inputs, o) => relik.annotate(inputs, o), options, parseDocumentLine);
      const summary = await annotateCorpus({
        input: values.input,
        output: values.output,
        resume: values.resume === true,
        batchSize,
        annotate: batch.annotate,
        idOf: (d) => parseDocumentLine(d.line, d.lineNumber).id,
        onProgress: (p) => bar.update(p),
      });
      bar.finish();
      await write(io.stderr, `relik annotate: ${formatSummary(summary)}\n`);
      if (batch.failures > 0) await write(io.stderr, `relik annotate: ${batch.failures} document(s) failed; see the "error" records\n`);
      return batch.failures > 0 ? 1 : 0;
    }
    const emit = async (id: string, result: RelikResult): Promise<void> => {
      if (format === 'text') await write(io.stdout, `${formatResult(result, direct === undefined ? id : undefined)}\n`);
      else await write(io.stdout, `${JSON.stringify({ id, ...result }, null, format === 'json' ? 2 : undefined)}\n`);
    };
    if (direct !== undefined) {
      const results = await relik.annotate(direct, options);
      for (const [i, result] of results.entries()) await emit(String(i), result);
      return 0;
    }
    // Streaming JSONL: batches in, results out in input order; a bad document is reported and skipped.
    let failures = 0;
    let batch: JsonlDocument[] = [];
    const flush = async (): Promise<void> => {
      const good = batch.filter((d) => d.input !== undefined);
      let results: RelikResult[] | undefined;
      try {
        results = await relik.annotate(good.map((d) => d.input as AnnotateInput), options);
      } catch {
        results = undefined; // fall back to one by one, so one bad document does not sink its batch
      }
      let k = 0;
      for (const doc of batch) {
        if (doc.error !== undefined) {
          failures += 1;
          await write(io.stdout, errorRecord(doc.id, new SyntaxError(doc.error)));
          continue;
        }
        try {
          await emit(doc.id, results !== undefined ? (results[k++] as RelikResult) : await relik.annotate(doc.input as AnnotateInput, options));
        } catch (error) {
          failures += 1;
          await write(io.stdout, errorRecord(doc.id, error));
        }
      }
      batch = [];
    };
    let lineNumber = 0;
    const source = values.input !== undefined ? createReadStream(values.input, { encoding: 'utf8' }) : io.stdin;
    for await (const line of lines(source)) {
      lineNumber += 1;
      if (line.trim() === '') continue;
      batch.push(parseDocumentLine(line, lineNumber));
      if (batch.length >= batchSize) await flush();
    }
    await flush();
    if (failures > 0) await write(io.stderr, `relik annotate: ${failures} document(s) failed; see the "error" records\n`);
    return failures > 0 ? 1 : 0;
  } finally {
    await relik.close();
  }
}
