import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { IndexError } from '../errors.js';
import type { Alias } from './aliases.js';

/** A KB entry or relation type as stored in an index's passages.jsonl. */
export interface Passage {
  readonly id: string;
  /** What the reader sees. */
  readonly title: string;
  /** What the retriever embedded. */
  readonly text: string;
  /** Other names of the entry in text, with how often each was seen (for name-lookup candidates). */
  readonly aliases?: readonly Alias[];
  /**
   * How well known the entry is (e.g. its Wikipedia in-link count): ranks the entries that share a name derived
   * from titles (src/index/aliases.ts). Absent: the index's median.
   */
  readonly popularity?: number;
}

/** Reads passages.jsonl; every line is a passage (see {@link parsePassage}) with a unique non-empty id. */
export async function readPassages(path: string): Promise<Passage[]> {
  const passages: Passage[] = [];
  const seen = new Map<string, number>();
  let lineNumber = 0;
  let lines: AsyncIterable<string>;
  try {
    lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
    for await (const line of lines) {
      lineNumber += 1;
      if (line.trim() === '') continue;
      passages.push(parsePassage(line, `${path}:${lineNumber}`, seen, lineNumber));
    }
  } catch (error) {
    if (error instanceof IndexError) throw error;
    throw new IndexError(`cannot read passages: ${(error as Error).message}`, path);
  }
  return passages;
}

/** Checks a passage's `aliases`: names as strings (count 1) or `{text, count}` objects with count > 0. */
function parseAliases(value: unknown, where: string): Alias[] {
  const fail = (): never => {
    throw new IndexError('"aliases" must be an array of non-empty strings or {"text": non-empty string, "count": number > 0}', where);
  };
  if (!Array.isArray(value)) return fail();
  return value.map((item: unknown): Alias => {
    if (typeof item === 'string') return item.trim() === '' ? fail() : { text: item, count: 1 };
    if (typeof item !== 'object' || item === null) return fail();
    const { text, count } = item as Record<string, unknown>;
    if (typeof text !== 'string' || text.trim() === '' || typeof count !== 'number' || !(count > 0) || !Number.isFinite(count)) return fail();
    return { text, count };
  });
}

/** Parses one passage line: `{id, title, text?, description?, aliases?, popularity?}`. `seen` maps ids to their first line. */
export function parsePassage(line: string, where: string, seen: Map<string, number>, lineNumber: number): Passage {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch (error) {
    throw new IndexError(`invalid JSON: ${(error as Error).message}`, where);
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) throw new IndexError('each line must be a JSON object', where);
  const { id, title, text, description, aliases, popularity } = record as Record<string, unknown>;
  const idString = typeof id === 'number' && Number.isFinite(id) ? String(id) : id;
  if (typeof idString !== 'string' || idString.length === 0) throw new IndexError('"id" must be a non-empty string or a number', where);
  if (typeof title !== 'string' || title.trim() === '') throw new IndexError('"title" must be a non-empty string', where);
  if (description !== undefined && typeof description !== 'string') throw new IndexError('"description" must be a string when present', where);
  if (text !== undefined && typeof text !== 'string') throw new IndexError('"text" must be a string when present', where);
  if (popularity !== undefined && popularity !== null && (typeof popularity !== 'number' || !Number.isFinite(popularity) || popularity < 0)) {
    throw new IndexError(`"popularity" must be a number >= 0 when present, got ${JSON.stringify(popularity)}`, where);
  }
  const first = seen.get(idString);
  if (first !== undefined) throw new IndexError(`duplicate id ${JSON.stringify(idString)} (first on line ${first})`, where);
  const parsedAliases = aliases === undefined || aliases === null ? undefined : parseAliases(aliases, where);
  seen.set(idString, lineNumber);
  const passage: Passage = {
    id: idString,
    title,
    text: (text as string | undefined) ?? (description ? `${title} <def> ${description}` : title),
    ...(parsedAliases === undefined || parsedAliases.length === 0 ? {} : { aliases: parsedAliases }),
    ...(typeof popularity === 'number' ? { popularity } : {}),
  };
  return passage;
}

/** One passages.jsonl line for a passage: `text` left out where it is the title (which is how it reads back). */
export function passageLine(p: Passage): string {
  return JSON.stringify({
    id: p.id,
    title: p.title,
    ...(p.text === p.title ? {} : { text: p.text }),
    ...(p.aliases === undefined ? {} : { aliases: p.aliases }),
    ...(p.popularity === undefined ? {} : { popularity: p.popularity }),
  });
}
