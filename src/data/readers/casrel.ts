/**
 * Reader for the CasRel / OneRel JSON format (`[{"text", "triple_list": [[subject, relation, object]]}]`),
 * used by the staged WebNLG files. Entities are given as strings, so they must be located in the text.
 */
import type { Word } from '../../types.js';
import { DatasetError } from '../errors.js';
import type { IssueLog } from '../issues.js';
import { isRecord, readJsonFile } from '../jsonl.js';
import { whitespaceWords } from '../offsets.js';
import { validateDocument, type EvalDocument, type GoldTriplet } from '../schema.js';

/** How an entity string was found. */
export type LocateMethod = 'words' | 'substring' | 'case-insensitive';

/** A located entity string. */
export interface Located {
  readonly start: number;
  readonly end: number;
  readonly method: LocateMethod;
}

/**
 * Locates an entity string in a whitespace-tokenised text: (1) the first occurrence that starts at a word start
 * and ends at a word end; else (2) the first raw substring occurrence; else (3) the first case-insensitive
 * occurrence (same length, so offsets hold). Returns null when none exists.
 */
export function locateEntity(text: string, words: readonly Word[], entity: string): Located | null {
  if (entity === '') return null;
  const starts = new Set(words.map((w) => w.start));
  const ends = new Set(words.map((w) => w.end));
  for (let i = text.indexOf(entity); i >= 0; i = text.indexOf(entity, i + 1)) {
    if (starts.has(i) && ends.has(i + entity.length)) return { start: i, end: i + entity.length, method: 'words' };
  }
  const sub = text.indexOf(entity);
  if (sub >= 0) return { start: sub, end: sub + entity.length, method: 'substring' };
  const lower = text.toLowerCase();
  if (lower.length === text.length) {
    const ci = lower.indexOf(entity.toLowerCase());
    if (ci >= 0 && entity.toLowerCase().length === entity.length) {
      return { start: ci, end: ci + entity.length, method: 'case-insensitive' };
    }
  }
  return null;
}

/** Options of {@link readCasRel}. */
export interface CasRelOptions {
  readonly issues?: IssueLog;
  /** Prefix of document ids (`<prefix>-<index>`); default the file name without extension. */
  readonly idPrefix?: string;
}

/**
 * Reads a CasRel JSON file as evaluation documents. Words are the whitespace-separated tokens of `text`. Each
 * distinct entity string becomes one span (no label); triplets point at those spans. Entity strings that
 * cannot be located are recorded as `entity-not-found` and their triplets as `triplet-dropped`.
 */
export async function* readCasRel(file: string, options: CasRelOptions = {}): AsyncGenerator<EvalDocument> {
  const data = await readJsonFile(file);
  if (!Array.isArray(data)) throw new DatasetError('expected a JSON array of {text, triple_list}', file);
  const prefix = options.idPrefix ?? (file.split(/[\\/]/).pop() ?? file).replace(/\.json$/, '');
  for (const [index, rec] of data.entries()) {
    const line = index + 1;
    const fail = (reason: string): never => {
      throw new DatasetError(`record ${line}: ${reason}`, file);
    };
    if (!isRecord(rec) || typeof rec.text !== 'string' || !Array.isArray(rec.triple_list)) {
      fail('expected {text: string, triple_list: [[subject, relation, object]]}');
    }
    const { text, triple_list: tripleList } = rec as { text: string; triple_list: unknown[] };
    const id = `${prefix}-${index}`;
    const words = whitespaceWords(text);
    const spans: { start: number; end: number }[] = [];
    const spanOf = new Map<string, number | null>();
    const find = (entity: string): number | null => {
      const known = spanOf.get(entity);
      if (known !== undefined) return known;
      const loc = locateEntity(text, words, entity);
      let idx: number | null = null;
      if (loc === null) {
        options.issues?.add({ kind: 'entity-not-found', file, line, docId: id, message: `"${entity}" not in the text` });
      } else {
        idx = spans.findIndex((s) => s.start === loc.start && s.end === loc.end);
        if (idx < 0) {
          idx = spans.length;
          spans.push({ start: loc.start, end: loc.end });
        }
      }
      spanOf.set(entity, idx);
      return idx;
    };
    const triplets: GoldTriplet[] = [];
    tripleList.forEach((t, i) => {
      if (!Array.isArray(t) || t.length !== 3 || !t.every((x) => typeof x === 'string')) {
        fail(`triple_list[${i}] must be [subject, relation, object] strings`);
      }
      const [s, relation, o] = t as [string, string, string];
      const subject = find(s);
      const object = find(o);
      if (subject === null || object === null) {
        options.issues?.add({ kind: 'triplet-dropped', file, line, docId: id, message: `(${s}, ${relation}, ${o})` });
        return;
      }
      triplets.push({ subject, relation, object });
    });
    yield validateDocument({ id, text, words, spans, triplets }, { file, line }, options.issues);
  }
}
