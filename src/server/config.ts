/** Settings of `relik serve`, their defaults and their checks. */
import { availableParallelism } from 'node:os';

/** Every setting of the server (CLI flags map 1:1, see `relik serve --help`). */
export interface ServerConfig {
  /** Bundle folder. */
  readonly bundle: string;
  /** Address to listen on (default 127.0.0.1: loopback only). */
  readonly host: string;
  /** TCP port; 0 picks a free one. */
  readonly port: number;
  /** Model workers, each with its own ONNX sessions (default: number of cores). */
  readonly workers: number;
  /** ONNX threads per session inside a worker (default 1). */
  readonly threads: number;
  /** Most texts in one merged forward batch. */
  readonly maxBatchTexts: number;
  /** How long a request may wait for others to share its batch (ms). */
  readonly batchWaitMs: number;
  /** Most requests waiting for a worker; more are answered 503 Overloaded. */
  readonly maxQueue: number;
  /** Largest request body (bytes). */
  readonly bodyLimit: number;
  /** Longest time a client may take to send its body (ms). */
  readonly bodyTimeoutMs: number;
  /** Longest text (characters). */
  readonly maxTextLength: number;
  /** Most texts in one request. */
  readonly maxTexts: number;
  /** Longest time from a request's arrival to its answer (ms); later it is answered 503 Timeout. */
  readonly requestTimeoutMs: number;
  /** Longest time graceful shutdown waits for in-flight requests before closing connections (ms). */
  readonly shutdownTimeoutMs: number;
}

/** Defaults for everything but the bundle. */
export function defaultConfig(bundle: string): ServerConfig {
  return {
    bundle,
    host: '127.0.0.1',
    port: 8080,
    workers: Math.max(1, availableParallelism()),
    threads: 1,
    maxBatchTexts: 16,
    batchWaitMs: 1,
    maxQueue: 256,
    bodyLimit: 1024 * 1024,
    bodyTimeoutMs: 10_000,
    maxTextLength: 100_000,
    maxTexts: 64,
    requestTimeoutMs: 60_000,
    shutdownTimeoutMs: 30_000,
  };
}

const INTEGER_FIELDS: readonly [keyof ServerConfig, number][] = [
  ['port', 0], ['workers', 1], ['threads', 1], ['maxBatchTexts', 1], ['batchWaitMs', 0], ['maxQueue', 1],
  ['bodyLimit', 64], ['bodyTimeoutMs', 1], ['maxTextLength', 1], ['maxTexts', 1], ['requestTimeoutMs', 1], ['shutdownTimeoutMs', 0],
];

/** Fills in defaults and checks every field; throws RangeError/TypeError naming the field. */
export function resolveConfig(partial: Partial<ServerConfig> & { readonly bundle: string }): ServerConfig {
  if (typeof partial.bundle !== 'string' || partial.bundle === '') throw new TypeError('bundle must be the path of a bundle folder');
  const config: ServerConfig = { ...defaultConfig(partial.bundle), ...Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) };
  for (const [field, min] of INTEGER_FIELDS) {
    const value = config[field];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) throw new RangeError(`${field} must be an integer >= ${min}, got ${String(value)}`);
  }
  if (config.port > 65535) throw new RangeError(`port must be at most 65535, got ${config.port}`);
  if (typeof config.host !== 'string' || config.host === '') throw new TypeError('host must be a non-empty string');
  return config;
}
