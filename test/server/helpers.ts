/** Shared helpers of the server tests: the built package (workers need compiled .js), bundles, HTTP. */
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

export const root = join(import.meta.dirname, '..', '..');
export const bundle = (name: string): string => join(root, 'fixtures', 'bundles', name);
export const serveCli = join(root, 'dist', 'src', 'cli', 'serve.js');

/** Builds dist/ when it is missing or older than the server sources (worker threads run compiled files). */
export async function ensureBuilt(): Promise<void> {
  const built = join(root, 'dist', 'src', 'server', 'app.js');
  const sources = ['app.ts', 'worker.ts', 'pool.ts', 'batcher.ts', 'request.ts', 'body.ts', 'errors.ts', 'corpus.ts'].map((f) => join(root, 'src', 'server', f));
  const stale = !existsSync(built) || sources.some((s) => statSync(s).mtimeMs > statSync(built).mtimeMs) || !existsSync(serveCli);
  if (stale) await promisify(execFile)('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root });
}

type ServerModule = typeof import('../../src/server/index.js');
type RelikModule = typeof import('../../src/relik.js');

/** The compiled server module (its pool starts dist/src/server/worker.js). */
export async function serverModule(): Promise<ServerModule> {
  return (await import(pathToFileURL(join(root, 'dist', 'src', 'server', 'index.js')).href)) as ServerModule;
}

/** The compiled library, for single-request baselines. */
export async function relikModule(): Promise<RelikModule> {
  return (await import(pathToFileURL(join(root, 'dist', 'src', 'relik.js')).href)) as RelikModule;
}

export interface JsonResponse<T = unknown> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

/** POSTs a JSON value (or raw bytes/text) and parses the JSON answer. */
export async function post<T = unknown>(url: string, body: unknown, init: { raw?: boolean; contentType?: string } = {}): Promise<JsonResponse<T>> {
  const payload = init.raw === true ? (body as string | Uint8Array) : JSON.stringify(body);
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': init.contentType ?? 'application/json' }, body: payload });
  return { status: response.status, headers: response.headers, body: (await response.json()) as T };
}

export async function get<T = unknown>(url: string): Promise<JsonResponse<T>> {
  const response = await fetch(url);
  return { status: response.status, headers: response.headers, body: (await response.json()) as T };
}

export interface ErrorReply {
  readonly error: { readonly type: string; readonly message: string };
}

/** Texts with varied lengths and characters (emoji, accents) for batching tests. */
export const TEXTS: readonly string[] = [
  'Marie Curie works for Acme Corporation in Paris.',
  'Alan Turing lived in London and worked with Ada Lovelace at Globex.',
  'Grace Hopper 😀 was born in New York.',
  'Ada.',
  'Oslo is the capital of Norway, and Bergen is on its west coast. '.repeat(6).trim(),
  'Élodie Dupont travaille pour Initech à Montréal.',
  'The University of Oslo hired Charles Darwin in Dublin.',
  'Kenya and France signed an agreement in Vienna with Wide World Importers.',
];
