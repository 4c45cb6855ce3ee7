/**
 * `relik bench`: performance of a bundle on a dataset (throughput, stages, latency, memory, cold start), or of a
 * synthetic vector index (`--index-synthetic N`). Writes a JSON result (`--out`) and prints a summary.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError, isMainModule, type CliIO } from '../cli/io.js';
import { DatasetError, UnknownDatasetError } from '../data/errors.js';
import { BundleError, IndexError } from '../errors.js';
import { dataRoot, loadDataset } from '../data/registry.js';
import { machineInfo } from './machine.js';
import { benchPipeline } from './pipeline.js';
import { formatResult, indexTargets, pipelineTargets, RESULT_SCHEMA, type BenchResultDocument } from './result.js';
import { benchSyntheticIndex } from './synthetic-index.js';

export const BENCH_USAGE = `usage: relik bench <bundle> <dataset> [options]
       relik bench --index-synthetic N [options]

  <bundle>                model bundle directory
  <dataset>               conll04:test, nyt:test, aida:testb, ... or a .jsonl file (docs/DATASETS.md)

pipeline options:
  --limit N               benchmark the first N documents (default: all)
  --batch-size N          documents per annotate call in the throughput run (default 8)
  --warmup N              documents annotated before timing (default 8)
  --latency N             single-text calls timed for p50/p95 latency (default 50, 0 = skip)
  --threads N             ONNX intra-op threads (default: all cores)
  --workers N             also time the run on N worker threads, 1 ONNX thread each (default 0 = skip)
  --dataset-words         give the model the dataset's words (as the Python eager benchmark does)
                          instead of splitting the text with the rule tokenizer
  --data-root DIR         dataset folder (default $RELIK_DATA, else ../shared/data)

synthetic index options:
  --index-synthetic N     build a random N x dim index in a temp folder; time load and top-k queries
  --dim N                 vector size (default 384)
  --queries N             queries to time (default 20)
  --k N                   top-k (default 100)
  --no-hnsw               skip the HNSW graph (building it over 1M vectors takes ~10 minutes on 2 cores)
  --ef N                  HNSW expansion at search time (default 128)
  --seed N                random seed (default 1)
  --dir DIR               build in DIR (kept) instead of a temp folder (removed)

common:
  --out FILE              write the JSON result to FILE
  --quiet                 no progress lines on stderr
  -h, --help              show this help
`;

function int(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got "${value}"`);
  return n;
}

/**
 * Runs `relik bench` with the arguments after `bench`. Returns the exit code: 0 ok, 1 failure (missing bundle or
 * dataset), 2 usage error.
 */
export async function runBench(argv: string[], io: Pick<CliIO, 'stdout' | 'stderr'>): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv[0] === 'bench' ? argv.slice(1) : argv,
      allowPositionals: true,
      options: {
        limit: { type: 'string' },
        'batch-size': { type: 'string' },
        warmup: { type: 'string' },
        latency: { type: 'string' },
        threads: { type: 'string' },
        workers: { type: 'string' },
        'dataset-words': { type: 'boolean', default: false },
        'data-root': { type: 'string' },
        'index-synthetic': { type: 'string' },
        dim: { type: 'string' },
        queries: { type: 'string' },
        k: { type: 'string' },
        'no-hnsw': { type: 'boolean', default: false },
        ef: { type: 'string' },
        seed: { type: 'string' },
        dir: { type: 'string' },
        out: { type: 'string' },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    io.stderr.write(`relik bench: ${(error as Error).message}\n\n${BENCH_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout.write(BENCH_USAGE);
    return 0;
  }
  const log = values.quiet ? () => {} : (line: string): void => void io.stderr.write(`relik bench: ${line}\n`);
  try {
    const machine = await machineInfo();
    let doc: BenchResultDocument;
    if (values['index-synthetic'] !== undefined) {
      if (positionals.length > 0) throw new UsageError('--index-synthetic takes no bundle or dataset');
      const result = await benchSyntheticIndex(
        {
          count: int('index-synthetic', values['index-synthetic'], 0, 1),
          dim: int('dim', values.dim, 384, 1),
          queries: int('queries', values.queries, 20, 1),
          k: int('k', values.k, 100, 1),
          hnsw: !values['no-hnsw'],
          expansionSearch: int('ef', values.ef, 128, 1),
          seed: int('seed', values.seed, 1, 0),
          ...(values.dir === undefined ? {} : { dir: resolve(values.dir) }),
          keep: values.dir !== undefined,
        },
        log,
      );
      doc = { schema: RESULT_SCHEMA, kind: 'index-synthetic', createdAt: new Date().toISOString(), argv, machine, targets: indexTargets(result), result };
    } else {
      if (positionals.length !== 2) throw new UsageError(`expected <bundle> <dataset>, got ${positionals.length} argument(s)`);
      const [bundle, dataset] = positionals as [string, string];
      const limit = values.limit === undefined ? undefined : int('limit', values.limit, 0, 1);
      const settings = {
        batchSize: int('batch-size', values['batch-size'], 8, 1),
        warmup: int('warmup', values.warmup, 8, 0),
        latencySamples: int('latency', values.latency, 50, 0),
        workers: int('workers', values.workers, 0, 0),
        ...(values.threads === undefined ? {} : { threads: int('threads', values.threads, 0, 1) }),
      };
      log(`reading ${dataset}${limit === undefined ? '' : ` (first ${limit})`}`);
      const docs = await loadDataset(dataset, { root: dataRoot(values['data-root']), ...(limit === undefined ? {} : { limit }) });
      const result = await benchPipeline({ ...settings, bundle, datasetWords: values['dataset-words'] }, docs, log);
      doc = {
        schema: RESULT_SCHEMA,
        kind: 'pipeline',
        createdAt: new Date().toISOString(),
        argv,
        machine,
        dataset: { name: dataset, input: values['dataset-words'] ? 'dataset-words' : 'text' },
        settings,
        targets: pipelineTargets(result),
        result,
      };
    }
    if (values.out !== undefined) {
      const out = resolve(values.out);
      await mkdir(dirname(out), { recursive: true });
      await writeFile(out, `${JSON.stringify(doc, null, 2)}\n`);
      log(`wrote ${out}`);
    }
    io.stdout.write(formatResult(doc));
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`relik bench: ${error.message}\n\n${BENCH_USAGE}`);
      return 2;
    }
    if (error instanceof DatasetError || error instanceof UnknownDatasetError || error instanceof BundleError || error instanceof IndexError) {
      io.stderr.write(`relik bench: ${error.name}: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

if (isMainModule(import.meta.url)) {
  runBench(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`relik bench: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
