import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { DatasetError } from './errors.js';

/** One parsed line of a JSONL file. */
export interface JsonlRecord {
  /** 1-based line number. */
  readonly line: number;
  readonly value: unknown;
}

async function assertReadableFile(file: string): Promise<void> {
  try {
    const s = await stat(file);
    if (!s.isFile()) throw new DatasetError('not a regular file', file);
  } catch (err) {
    if (err instanceof DatasetError) throw err;
    throw new DatasetError(`cannot read file: ${(err as Error).message}`, file);
  }
}

/**
 * Streams a JSONL file line by line. Blank lines are skipped; a line that is not valid JSON throws a
 * {@link DatasetError} with the file and 1-based line number.
 */
export async function* readJsonl(file: string): AsyncGenerator<JsonlRecord> {
  await assertReadableFile(file);
  const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const raw of rl) {
      line += 1;
      const text = line === 1 ? raw.replace(/^\uFEFF/, '') : raw;
      if (text.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        throw new DatasetError(`invalid JSON: ${(err as Error).message}`, file, line);
      }
      yield { line, value };
    }
  } finally {
    rl.close();
  }
}

/** Reads a whole JSON file (for the small CasRel / property files). Errors name the file. */
export async function readJsonFile(file: string): Promise<unknown> {
  await assertReadableFile(file);
  const text = await readFile(file, 'utf8');
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new DatasetError(`invalid JSON: ${(err as Error).message}`, file);
  }
}

/** Narrowing helper: a plain (non-array) JSON object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
