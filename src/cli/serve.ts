#!/usr/bin/env node
/** `relik serve`: the HTTP server (docs/SERVER.md). Runs until SIGTERM/SIGINT, then shuts down gracefully. */
import { parseArgs } from 'node:util';
import { startServer } from '../server/app.js';
import type { ServerConfig } from '../server/config.js';
import { bundleFrom } from './bundle-path.js';
import { UsageError, isMainModule, parseIntegerFlag, write, type CliIO } from './io.js';

/** `relik serve --help`. */
export const SERVE_HELP = `Usage: relik serve [options]

Serves the model over HTTP: POST /annotate, GET /health, GET /ready, GET /openapi.json, and a web page at /.
Requests from all clients are micro-batched; model work runs in worker threads (one model copy each).
SIGTERM or SIGINT finishes the requests in flight, then exits.

Options:
  --bundle DIR              model bundle (default: $RELIK_BUNDLE or the bundled models/default)
  --host ADDR               address to listen on (default 127.0.0.1)
  --port N                  TCP port, 0 for any free one (default 8080)
  --workers N               model workers (default: number of cores)
  --threads N               ONNX threads per worker (default 1)
  --max-batch N             most texts in one shared forward batch (default 16)
  --batch-wait-ms N         how long a request waits for others to batch with (default 1)
  --max-queue N             most waiting requests; more get 503 Overloaded (default 256)
  --body-limit BYTES        largest request body (default 1048576)
  --body-timeout-ms N       longest time to receive a body; slower clients get 408 (default 10000)
  --max-text-length N       longest text in characters (default 100000)
  --max-texts N             most texts per request (default 64)
  --request-timeout-ms N    longest time to answer a request; later gets 503 Timeout (default 60000)
  --shutdown-timeout-ms N   longest wait for in-flight requests at shutdown (default 30000)
  -h, --help`;

const FLAGS: readonly [string, keyof ServerConfig, number][] = [
  ['port', 'port', 0], ['workers', 'workers', 1], ['threads', 'threads', 1], ['max-batch', 'maxBatchTexts', 1],
  ['batch-wait-ms', 'batchWaitMs', 0], ['max-queue', 'maxQueue', 1], ['body-limit', 'bodyLimit', 64], ['body-timeout-ms', 'bodyTimeoutMs', 1],
  ['max-text-length', 'maxTextLength', 1], ['max-texts', 'maxTexts', 1], ['request-timeout-ms', 'requestTimeoutMs', 1], ['shutdown-timeout-ms', 'shutdownTimeoutMs', 0],
];

/** How a caller other than a signal can stop the server. */
export interface ServeControl {
  /** Stops the server when aborted (tests); by default SIGTERM and SIGINT do. */
  readonly signal?: AbortSignal;
}

/** `relik serve`: returns 0 after a graceful shutdown, 1 when the model could not be loaded, 2 for usage errors. */
export async function runServe(argv: string[], io: CliIO, control: ServeControl = {}): Promise<number> {
  const parsed = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      bundle: { type: 'string' }, host: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      ...Object.fromEntries(FLAGS.map(([flag]) => [flag, { type: 'string' as const }])),
    },
  });
  const values: Record<string, string | boolean | undefined> = parsed.values;
  const positionals = parsed.positionals;
  if (values.help === true) {
    await write(io.stdout, `${SERVE_HELP}\n`);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const settings: Record<string, unknown> = { bundle: bundleFrom(values.bundle as string | undefined) };
  if (typeof values.host === 'string') settings.host = values.host;
  for (const [flag, field, min] of FLAGS) {
    const value = parseIntegerFlag(flag, values[flag] as string | undefined, min);
    if (value !== undefined) settings[field] = value;
  }
  const server = await startServer(settings as Partial<ServerConfig> & { bundle: string }, { log: (line) => io.stderr.write(`${line}\n`) });
  await write(io.stdout, `relik serve: listening on ${server.url} (${server.config.workers} worker${server.config.workers === 1 ? '' : 's'} loading ${server.config.bundle})\n`);

  let stop: (reason: string) => void = () => undefined;
  const stopped = new Promise<string>((resolve) => (stop = resolve));
  const onSignal = (signal: NodeJS.Signals): void => {
    stop(signal);
    // A second signal means "now": skip the graceful part.
    process.once(signal, () => {
      process.stderr.write(`relik serve: second ${signal}, exiting without waiting\n`);
      process.exit(130);
    });
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  control.signal?.addEventListener('abort', () => stop('abort'), { once: true });
  try {
    const outcome = await Promise.race([
      server.ready.then(
        (info) => ({ ok: true as const, info }),
        (error: unknown) => ({ ok: false as const, error }),
      ),
      stopped.then((reason) => ({ ok: 'stopped' as const, reason })),
    ]);
    if (outcome.ok === false) {
      const e = outcome.error instanceof Error ? outcome.error : new Error(String(outcome.error));
      await write(io.stderr, `relik serve: cannot load the model: ${e.name}: ${e.message}\n`);
      await server.close();
      return 1;
    }
    if (outcome.ok === true) {
      await write(io.stdout, `relik serve: ready (${outcome.info.name}, task ${outcome.info.task}); open ${server.url}/ in a browser\n`);
    }
    const reason = outcome.ok === 'stopped' ? outcome.reason : await stopped;
    await write(io.stdout, `relik serve: ${reason}: finishing requests in flight, then exiting\n`);
    await server.close();
    await write(io.stdout, 'relik serve: stopped\n');
    return 0;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}

// Runnable on its own (`node dist/src/cli/serve.js ...`) as well as through `relik serve`.
if (isMainModule(import.meta.url)) {
  runServe(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      const e = error instanceof Error ? error : new Error(String(error));
      const usage = e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true;
      process.stderr.write(`relik serve: ${usage ? e.message : `${e.name}: ${e.message}`}\n`);
      process.exitCode = usage ? 2 : 1;
    },
  );
}
