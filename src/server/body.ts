/**
 * Reads a JSON request body with limits: size (413 as soon as it is exceeded), time (408 for clients that
 * send too slowly), strict UTF-8 (400 for invalid byte sequences) and JSON syntax (400).
 */
import type { IncomingMessage } from 'node:http';
import { HttpError } from './errors.js';

/** Limits on one request body. */
export interface BodyLimits {
  /** Largest body in bytes. */
  readonly maxBytes: number;
  /** Longest time to receive the whole body (ms), from the moment the handler starts reading it. */
  readonly timeoutMs: number;
}

/** Decodes bytes as strict UTF-8 (no replacement characters) and parses JSON; errors are `HttpError`s. */
export function parseJsonBytes(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new HttpError('InvalidUTF8', 'request body is not valid UTF-8');
  }
  if (text.trim() === '') throw new HttpError('InvalidJSON', 'request body is empty; send a JSON object');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new HttpError('InvalidJSON', `request body is not valid JSON: ${(error as Error).message}`);
  }
}

/** Collects a request stream under the limits and parses it as JSON. */
export function readJsonBody(stream: IncomingMessage, limits: BodyLimits): Promise<unknown> {
  const declared = Number(stream.headers['content-length']);
  if (Number.isFinite(declared) && declared > limits.maxBytes) {
    return Promise.reject(new HttpError('PayloadTooLarge', `request body is ${declared} bytes; the limit is ${limits.maxBytes}`, true));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (error: HttpError | null, value?: unknown): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('aborted', onAborted);
      if (error !== null) {
        stream.pause();
        reject(error);
      } else resolve(value);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limits.maxBytes) finish(new HttpError('PayloadTooLarge', `request body exceeds the limit of ${limits.maxBytes} bytes`, true));
      else chunks.push(chunk);
    };
    const onEnd = (): void => {
      try {
        finish(null, parseJsonBytes(Buffer.concat(chunks, size)));
      } catch (error) {
        finish(error as HttpError);
      }
    };
    const onError = (): void => finish(new HttpError('InvalidRequest', 'the request body could not be read', true));
    const onAborted = (): void => finish(new HttpError('InvalidRequest', 'the client aborted the request', true));
    const timer = setTimeout(() => finish(new HttpError('RequestTimeout', `the request body did not arrive within ${limits.timeoutMs} ms`, true)), limits.timeoutMs);
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('aborted', onAborted);
  });
}
