/**
 * The `relik eval` command, independent of how the bundle is loaded (src/cli/eval.ts injects `Relik.load`).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { IssueLog } from '../data/issues.js';
import { dataRoot, datasetNames, getDataset, loadDataset } from '../data/registry.js';
import type { RelationPassage } from '../data/readers/relations.js';
import type { AnnotateOptions, Task } from '../types.js';
import { LINK_THRESHOLD_GRID, evaluate, type Annotator } from './evaluate.js';
import { progressReporter } from './progress.js';
import { formatReport } from './table.js';

/** What the command needs from a loaded bundle. */
export interface LoadedBundle extends Annotator {
  readonly name: string;
  readonly task: Task;
  /** Entity KB size, when the bundle knows it (0 for relation-only bundles). */
  readonly entityCount?: number;
  /** Releases the bundle's sessions. */
  close?(): Promise<void>;
}

/** Loads a bundle directory. */
export type BundleLoader = (dir: string) => Promise<LoadedBundle>;

/** Output streams of the command. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

export const EVAL_USAGE = `usage: relik eval <bundle> <dataset> [options]

  <bundle>              model bundle directory
  <dataset>             one of the names below, or a .jsonl file in the ReLiK-TS schema (docs/DATASETS.md)

options:
  --out FILE            write the JSON report to FILE
  --errors FILE         write per-document false positives / negatives as JSONL
  --limit N             evaluate the first N documents only
  --batch-size N        documents per annotate call (default 8)
  --data-root DIR       dataset folder (default $RELIK_DATA, else ../shared/data)
  --task el|re|cie      narrow the bundle task
  --top-k N             entity candidates per window (retrieved)
  --alias-top-k N       entity candidates per window found by name (titles, aliases); 0 = off
  --alias-prior-weight W  weight of p(entity | mention text) from names in linking; 0 = off
  --link-threshold P    links less probable than P are NME, in [0, 1) (default: the bundle's; 0 = all)
  --link-threshold-sweep  annotate at link threshold 0 and score EL at 0, 0.05, ..., 0.95 (EL datasets)
  --threshold P         relation threshold in [0, 1) (default: the bundle's, tuned on dev)
  --relations-per-pair N  relations kept per ordered mention pair, best first; 0 = all (default: the bundle's)
  --skip-recall         do not request candidates / compute retriever recall
  -h, --help            show this help
`;

/** A number flag >= min, and < below when given; the message states the allowed range. */
function numberFlag(name: string, value: string | undefined, min: number, below?: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !(n >= min && (below === undefined ? Number.isFinite(n) : n < below))) {
    const allowed = below === undefined ? `>= ${min}` : `in [${min}, ${below})`;
    throw new UsageError(`--${name} must be a number ${allowed}, got "${value}"`);
  }
  return n;
}

class UsageError extends Error {
  override readonly name = 'UsageError';
}

function positiveInt(name: string, value: string | undefined, min = 1): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`--${name} must be an integer >= ${min}, got "${value}"`);
  }
  return n;
}

/** Number of KB entries of a bundle (`relik.json` -> entities.index -> index.json count), or null. */
export async function bundleKbSize(bundleDir: string): Promise<number | null> {
  try {
    const manifest: unknown = JSON.parse(await readFile(join(bundleDir, 'relik.json'), 'utf8'));
    const entities = (manifest as { entities?: { index?: unknown } }).entities;
    if (!entities || typeof entities.index !== 'string') return null;
    const index: unknown = JSON.parse(await readFile(join(bundleDir, entities.index, 'index.json'), 'utf8'));
    const count = (index as { count?: unknown }).count;
    return typeof count === 'number' ? count : null;
  } catch {
    return null;
  }
}

function isTty(stream: NodeJS.WritableStream): boolean {
  return 'isTTY' in stream && (stream as { isTTY?: unknown }).isTTY === true;
}

/**
 * Runs `relik eval` with an injected bundle loader. Returns the exit code: 0 success, 2 usage error (unknown
 * dataset, bad option), 1 any other failure (message on stderr).
 */
export async function runEvalWith(
  argv: readonly string[],
  io: CliIo,
  load: BundleLoader,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const say = (s: string): void => void io.stderr.write(`${s}\n`);
  let args;
  try {
    args = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        out: { type: 'string' },
        errors: { type: 'string' },
        limit: { type: 'string' },
        'batch-size': { type: 'string' },
        'data-root': { type: 'string' },
        task: { type: 'string' },
        'top-k': { type: 'string' },
        'alias-top-k': { type: 'string' },
        'alias-prior-weight': { type: 'string' },
        'link-threshold': { type: 'string' },
        'link-threshold-sweep': { type: 'boolean', default: false },
        threshold: { type: 'string' },
        'relations-per-pair': { type: 'string' },
        'skip-recall': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    say(`relik eval: ${(err as Error).message}\n\n${EVAL_USAGE}`);
    return 2;
  }
  const { values, positionals } = args;
  if (values.help) {
    io.stdout.write(`${EVAL_USAGE}\ndatasets: ${datasetNames().join(', ')}\n`);
    return 0;
  }
  const pos = positionals[0] === 'eval' && positionals.length === 3 ? positionals.slice(1) : positionals;
  try {
    if (pos.length !== 2) throw new UsageError(`expected <bundle> <dataset>, got ${pos.length} positional argument(s)`);
    const [bundleDir, datasetName] = pos as [string, string];
    const limit = positiveInt('limit', values.limit, 0);
    const batchSize = positiveInt('batch-size', values['batch-size']) ?? 8;
    const topK = positiveInt('top-k', values['top-k']);
    const aliasTopK = positiveInt('alias-top-k', values['alias-top-k'], 0);
    const aliasPriorWeight = numberFlag('alias-prior-weight', values['alias-prior-weight'], 0);
    const linkThreshold = numberFlag('link-threshold', values['link-threshold'], 0, 1);
    const sweepLinks = values['link-threshold-sweep'] === true;
    if (sweepLinks && linkThreshold !== undefined) throw new UsageError('--link-threshold-sweep annotates at link threshold 0; drop --link-threshold');
    const relationThreshold = numberFlag('threshold', values.threshold, 0, 1);
    const relationsPerPair = positiveInt('relations-per-pair', values['relations-per-pair'], 0);
    const task = values.task;
    if (task !== undefined && task !== 'el' && task !== 're' && task !== 'cie') {
      throw new UsageError(`--task must be one of el, re, cie, got "${task}"`);
    }
    let spec;
    try {
      spec = getDataset(datasetName);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const root = dataRoot(values['data-root'], env);
    const issues = new IssueLog();
    const documents = await loadDataset(datasetName, { root, issues, ...(limit !== undefined ? { limit } : {}) });
    if (issues.total > 0) say(`dataset issues: ${JSON.stringify(issues.toJSON().counts)}`);
    let relations: RelationPassage[] | undefined;
    if (spec.relations) {
      try {
        relations = await spec.relations(root);
      } catch (err) {
        say(`warning: relation inventory not loaded (${(err as Error).message}); relation names are compared as given`);
      }
    }
    say(`loading bundle ${bundleDir}`);
    const bundle = await load(bundleDir);
    const bundleTask: Task = task ?? bundle.task;
    const annotateOptions: AnnotateOptions = {
      ...(task && task !== bundle.task ? { task } : {}),
      ...(topK !== undefined ? { topK } : {}),
      ...(aliasTopK !== undefined ? { aliasTopK } : {}),
      ...(aliasPriorWeight !== undefined ? { aliasPriorWeight } : {}),
      ...(linkThreshold !== undefined ? { linkThreshold } : {}),
      ...(relationThreshold !== undefined ? { relationThreshold } : {}),
      ...(relationsPerPair !== undefined ? { relationsPerPair } : {}),
    };
    const progress = progressReporter(io.stderr, isTty(io.stderr));
    say(`evaluating ${bundle.name} on ${datasetName}: ${documents.length} documents, batch size ${batchSize}`);
    const kbSize = spec.task === 're' ? null : (bundle.entityCount ?? (await bundleKbSize(bundleDir)));
    const report = await evaluate(bundle, documents, {
      dataset: datasetName,
      datasetTask: spec.task,
      bundleTask,
      bundleName: bundle.name,
      kbSize,
      entityKey: spec.entityKey,
      ...(relations ? { relations } : {}),
      batchSize,
      annotateOptions,
      retrieverRecall: !values['skip-recall'],
      ...(sweepLinks ? { linkThresholdSweep: LINK_THRESHOLD_GRID } : {}),
      total: documents.length,
      onProgress: progress.update,
      datasetIssues: issues.toJSON(),
    }).finally(async () => {
      progress.finish();
      await bundle.close?.();
    });
    io.stdout.write(`${formatReport(report)}\n`);
    if (values.out) {
      await writeFile(resolve(values.out), `${JSON.stringify(report, null, 2)}\n`);
      say(`report written to ${values.out}`);
    }
    if (values.errors) {
      await writeFile(resolve(values.errors), report.errors.map((e) => JSON.stringify(e)).join('\n') + (report.errors.length ? '\n' : ''));
      say(`${report.errors.length} documents with errors written to ${values.errors}`);
    }
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      say(`relik eval: ${err.message}`);
      return 2;
    }
    say(`relik eval: ${(err as Error).message}`);
    return 1;
  }
}
