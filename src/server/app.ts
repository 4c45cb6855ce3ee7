/**
 * The HTTP server: routes, error mapping, readiness and graceful shutdown. Model work never runs here:
 * requests are validated, queued in the `MicroBatcher`, and run by the `WorkerPool`.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { parseManifest, type BundleManifest } from '../bundle/manifest.js';
import { BundleError } from '../errors.js';
import type { RelikResult } from '../types.js';
import { MicroBatcher, QueueFullError, type BatcherStats } from './batcher.js';
import { readJsonBody } from './body.js';
import { resolveConfig, type ServerConfig } from './config.js';
import { HttpError, toHttpError } from './errors.js';
import { openApiDocument } from './openapi.js';
import { WorkerPool } from './pool.js';
import type { BundleInfo } from './protocol.js';
import { parseAnnotateRequest } from './request.js';
import { loadAssets, packageRoot, webDir, type StaticAsset } from './static.js';

/** A running server. */
export interface RelikServer {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  readonly config: ServerConfig;
  readonly fastify: FastifyInstance;
  /** Resolves once every worker has loaded the bundle; rejects when loading failed. */
  readonly ready: Promise<BundleInfo>;
  /** Queue counters (zeros before the model is loaded). */
  stats(): BatcherStats;
  /**
   * Graceful shutdown: refuses new requests (503 ShuttingDown), finishes those in flight, then stops the
   * workers. Connections still open after `shutdownTimeoutMs` are closed. Safe to call more than once.
   */
  close(): Promise<void>;
}

/** Hooks for embedding and tests. */
export interface StartOptions {
  /** Worker entry override (tests). */
  readonly workerUrl?: URL;
  /** Where to report unexpected errors (default: stderr). */
  readonly log?: (line: string) => void;
}

const KNOWN_ROUTES: Record<string, string> = { '/annotate': 'POST', '/health': 'GET', '/ready': 'GET', '/openapi.json': 'GET' };

function readManifest(bundle: string): BundleManifest {
  const path = join(resolve(bundle), 'relik.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new BundleError(code === 'ENOENT' ? 'not a ReLiK bundle: relik.json is missing' : `cannot read relik.json: ${code ?? ''}`, path);
  }
  return parseManifest(text, path);
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function sendError(reply: FastifyReply, error: HttpError): FastifyReply {
  if (error.closeConnection) reply.header('connection', 'close');
  if (error.type === 'Overloaded' || error.type === 'NotReady' || error.type === 'ShuttingDown') reply.header('retry-after', '1');
  return reply.code(error.status).type('application/json; charset=utf-8').send(error.body);
}

/** Waits for `promise`, or throws `onTimeout()` after `ms`. */
function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolvePromise(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * Starts listening at once (so `/health` answers) and loads the model in the workers in the background
 * (`/ready` answers 503 until `ready` resolves). Throws before listening when the bundle's manifest is bad.
 */
export async function startServer(settings: Partial<ServerConfig> & { readonly bundle: string }, options: StartOptions = {}): Promise<RelikServer> {
  const config = resolveConfig(settings);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const manifest = readManifest(config.bundle);
  const assets: Map<string, StaticAsset> = loadAssets();
  if (!assets.has('/')) log(`relik serve: no web page found in ${webDir()}; serving the API only`);
  const openapi = JSON.stringify(openApiDocument(config, packageVersion()));
  const limits = { maxTextLength: config.maxTextLength, maxTexts: config.maxTexts };

  let pool: WorkerPool | undefined;
  let batcher: MicroBatcher | undefined;
  let closing = false;
  let closed: Promise<void> | undefined;

  const app = Fastify({
    logger: false,
    bodyLimit: config.bodyLimit,
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    // Backstop for clients that stall before the body parser runs (headers); the parser has its own timer.
    requestTimeout: config.bodyTimeoutMs * 2 + 10_000,
    keepAliveTimeout: 5_000,
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', async (_request: FastifyRequest, payload: IncomingMessage): Promise<unknown> =>
    readJsonBody(payload, { maxBytes: config.bodyLimit, timeoutMs: config.bodyTimeoutMs }),
  );

  // While shutting down, every answer closes its connection, so keep-alive clients do not hold the shutdown.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    return payload;
  });

  app.setErrorHandler((error, request, reply) => {
    const http = toHttpError(error);
    if (http.status >= 500 && http.type === 'InternalError') log(`relik serve: ${request.method} ${request.url} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return sendError(reply, http);
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const method = KNOWN_ROUTES[path] ?? (assets.has(path) ? 'GET' : undefined);
    if (method !== undefined) {
      reply.header('allow', method === 'GET' ? 'GET, HEAD' : method);
      return sendError(reply, new HttpError('MethodNotAllowed', `${request.method} is not allowed on ${path}; use ${method}`));
    }
    return sendError(reply, new HttpError('NotFound', `no route ${request.method} ${path}; see GET /openapi.json`));
  });

  app.post('/annotate', async (request, reply) => {
    if (closing) throw new HttpError('ShuttingDown', 'the server is shutting down; retry on another instance', true);
    if (batcher === undefined) throw new HttpError('NotReady', 'the model is still loading; poll GET /ready');
    const parsed = parseAnnotateRequest(request.body, manifest, limits);
    let submission;
    try {
      submission = batcher.submit(parsed.inputs, parsed.options);
    } catch (error) {
      if (error instanceof QueueFullError) throw new HttpError('Overloaded', error.message);
      throw error;
    }
    // A client that hangs up while queued costs no model work.
    reply.raw.once('close', () => {
      if (!reply.raw.writableEnded) submission.cancel();
    });
    const results: RelikResult[] = await withTimeout(submission.results, config.requestTimeoutMs, () => {
      submission.cancel();
      return new HttpError('Timeout', `the request was not done within ${config.requestTimeoutMs} ms; the server is busy or the text is too long`);
    });
    return parsed.single ? { result: results[0] } : { results };
  });

  app.get('/health', async () => ({ status: 'ok' }));

  app.get('/ready', async (_request, reply) => {
    if (closing) return sendError(reply, new HttpError('ShuttingDown', 'the server is shutting down'));
    if (pool === undefined || batcher === undefined) return sendError(reply, new HttpError('NotReady', 'the model is still loading'));
    return {
      status: 'ready',
      bundle: pool.info,
      workers: pool.size,
      queue: batcher.stats,
      limits: { maxTextLength: config.maxTextLength, maxTexts: config.maxTexts, bodyLimit: config.bodyLimit, maxBatchTexts: config.maxBatchTexts, maxQueue: config.maxQueue },
    };
  });

  app.get('/openapi.json', async (_request, reply) => reply.type('application/json; charset=utf-8').send(openapi));

  for (const [path, asset] of assets) {
    app.get(path, async (_request, reply) => reply.type(asset.contentType).header('cache-control', 'no-cache').send(asset.body));
  }

  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;

  const loading = WorkerPool.start({ bundle: resolve(config.bundle), workers: config.workers, threads: config.threads, ...(options.workerUrl === undefined ? {} : { workerUrl: options.workerUrl }) });
  const ready = loading.then((started) => {
    pool = started;
    batcher = new MicroBatcher(started, { maxBatchTexts: config.maxBatchTexts, maxWaitMs: config.batchWaitMs, maxQueue: config.maxQueue });
    return started.info;
  });
  ready.catch(() => undefined); // the caller decides what a failed load means; no unhandled rejection here

  const close = (): Promise<void> => {
    closed ??= (async () => {
      closing = true;
      const force = setTimeout(() => app.server.closeAllConnections(), config.shutdownTimeoutMs);
      try {
        await app.close();
      } finally {
        clearTimeout(force);
      }
      await batcher?.drain();
      const started = await loading.catch(() => undefined);
      await started?.close();
    })();
    return closed;
  };

  return {
    url,
    config,
    fastify: app,
    ready,
    stats: () => batcher?.stats ?? { queued: 0, running: 0, batches: 0, requests: 0, texts: 0 },
    close,
  };
}
