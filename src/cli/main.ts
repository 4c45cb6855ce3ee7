#!/usr/bin/env node
import { BundleError, IndexError } from '../errors.js';
import { runAnnotate } from './annotate.js';
import { runIndex } from './index-build.js';
import { UsageError, isMainModule, type CliIO } from './io.js';

const HELP = `relik — entity linking and relation extraction (ReLiK) on CPU

Commands:
  relik annotate [TEXT...]     annotate texts, a file, or JSONL on stdin
  relik index build KB.jsonl   embed your own knowledge base into a new bundle
  relik eval BUNDLE DATASET    score a bundle on a benchmark (conll04:test, aida:testb, ...)
  relik serve                  HTTP API (POST /annotate) and web page, micro-batched (docs/SERVER.md)
  relik bench BUNDLE DATASET   throughput, stage times, latency, memory (docs/BENCHMARKS.md)

Run "relik COMMAND --help" for the options of a command.`;

type Command = (argv: string[], io: CliIO) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  annotate: async () => runAnnotate,
  index: async () => runIndex,
  eval: async () => (await import('./eval.js')).runEval,
  serve: async () => (await import('./serve.js')).runServe,
  bench: async () => (await import('../bench/main.js')).runBench,
};

/** Runs the CLI and returns the exit code; errors become one clear line on stderr. */
export async function main(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help') {
    io.stdout.write(`${HELP}\n`);
    return name === undefined ? 2 : 0;
  }
  const load = COMMANDS[name];
  if (load === undefined) {
    io.stderr.write(`relik: unknown command "${name}"; commands: ${Object.keys(COMMANDS).join(', ')}\n`);
    return 2;
  }
  try {
    return await (await load())(rest, io);
  } catch (error) {
    const e = error as Error & { code?: string };
    if (error instanceof UsageError || e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      io.stderr.write(`relik ${name}: ${e.message}\nRun "relik ${name} --help" for usage.\n`);
      return 2;
    }
    if (error instanceof BundleError || error instanceof IndexError || error instanceof TypeError || error instanceof RangeError) {
      io.stderr.write(`relik ${name}: ${e.name}: ${e.message}\n`);
      return 1;
    }
    throw error;
  }
}

if (isMainModule(import.meta.url)) {
  main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`relik: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
