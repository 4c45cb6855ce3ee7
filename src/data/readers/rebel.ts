/**
 * Reader for the REBEL sample (`rebel_sample.jsonl`): Wikipedia abstracts with Wikidata-linked entity
 * mentions and triples whose predicates are given as surface forms (closed IE).
 */
import { DatasetError } from '../errors.js';
import type { IssueLog } from '../issues.js';
import { isRecord, readJsonl } from '../jsonl.js';
import { codePointToUtf16 } from '../offsets.js';
import { validateDocument, type EvalDocument, type GoldSpan, type GoldTriplet } from '../schema.js';

/** Options of {@link readRebel}. */
export interface RebelOptions {
  readonly issues?: IssueLog;
}

interface RebelEntity {
  readonly uri: string;
  readonly boundaries: readonly [number, number];
  readonly surfaceform: string;
}

function parseEntity(value: unknown, what: string, fail: (r: string) => never): RebelEntity {
  if (
    !isRecord(value) ||
    typeof value.uri !== 'string' ||
    typeof value.surfaceform !== 'string' ||
    !Array.isArray(value.boundaries) ||
    !Number.isInteger(value.boundaries[0]) ||
    !Number.isInteger(value.boundaries[1])
  ) {
    fail(`${what} must be {uri, boundaries: [start, end], surfaceform}`);
  }
  const v = value as { uri: string; surfaceform: string; boundaries: [number, number] };
  return { uri: v.uri, surfaceform: v.surfaceform, boundaries: [v.boundaries[0], v.boundaries[1]] };
}

/**
 * Finds where a surface form really is: the given offsets when they match, else the occurrence nearest to the
 * given start (REBEL's offsets are shifted in about one entity in seven). Returns null when absent.
 */
export function realign(text: string, start: number, end: number, surface: string): { start: number; end: number } | null {
  if (text.slice(start, end) === surface) return { start, end };
  if (surface === '') return null;
  let best = -1;
  for (let i = text.indexOf(surface); i >= 0; i = text.indexOf(surface, i + 1)) {
    if (best < 0 || Math.abs(i - start) < Math.abs(best - start)) best = i;
  }
  return best < 0 ? null : { start: best, end: best + surface.length };
}

/**
 * Streams the REBEL sample as evaluation documents. Every entity mention becomes a span with `id` = its
 * Wikidata QID (or literal value for dates/quantities; no id when the uri is empty) and no label. Offsets (code points) are converted to
 * UTF-16 and, when they do not cover the surface form, realigned to the nearest occurrence (`span-realigned`);
 * a surface form absent from the text is `span-unresolved` and dropped with its triples. The relation of a
 * triplet is the predicate's surface form (e.g. "publisher").
 */
export async function* readRebel(file: string, options: RebelOptions = {}): AsyncGenerator<EvalDocument> {
  for await (const { line, value } of readJsonl(file)) {
    const fail = (reason: string): never => {
      throw new DatasetError(reason, file, line);
    };
    if (!isRecord(value) || typeof value.text !== 'string' || !Array.isArray(value.entities)) {
      fail('expected {docid, text, entities: [...], triples: [...]}');
    }
    const rec = value as Record<string, unknown> & { text: string; entities: unknown[] };
    const id = String(rec.docid ?? line);
    const text = rec.text;
    const toUtf16 = codePointToUtf16(text);
    const spans: GoldSpan[] = [];
    const indexOf = new Map<string, number | null>();
    const key = (e: RebelEntity): string => `${e.boundaries[0]}:${e.boundaries[1]}:${e.uri}`;
    rec.entities.forEach((raw, i) => {
      const e = parseEntity(raw, `entities[${i}]`, fail);
      const at = realign(text, toUtf16(e.boundaries[0]), toUtf16(e.boundaries[1]), e.surfaceform);
      if (at === null) {
        options.issues?.add({ kind: 'span-unresolved', file, line, docId: id, message: `"${e.surfaceform}" not in the text` });
        if (!indexOf.has(key(e))) indexOf.set(key(e), null);
        return;
      }
      if (at.start !== toUtf16(e.boundaries[0])) {
        options.issues?.add({
          kind: 'span-realigned',
          file,
          line,
          docId: id,
          message: `"${e.surfaceform}" moved from ${e.boundaries[0]} to ${at.start}`,
        });
      }
      if ((indexOf.get(key(e)) ?? null) === null) indexOf.set(key(e), spans.length);
      // A few mentions have an empty uri: kept as unlinked mentions (no id).
      spans.push({ start: at.start, end: at.end, ...(e.uri !== '' ? { id: e.uri } : {}) });
    });
    const rawTriples = rec.triples ?? [];
    if (!Array.isArray(rawTriples)) fail('"triples" must be an array');
    const triplets: GoldTriplet[] = [];
    (rawTriples as unknown[]).forEach((raw, i) => {
      if (!isRecord(raw) || !isRecord(raw.predicate) || typeof raw.predicate.surfaceform !== 'string') {
        fail(`triples[${i}] must be {subject, predicate: {surfaceform}, object}`);
      }
      const t = raw as Record<string, unknown> & { predicate: { surfaceform: string } };
      const subject = parseEntity(t.subject, `triples[${i}].subject`, fail);
      const object = parseEntity(t.object, `triples[${i}].object`, fail);
      const s = indexOf.get(key(subject));
      const o = indexOf.get(key(object));
      if (s === undefined || o === undefined) {
        throw new DatasetError(`triples[${i}] refers to an entity not in "entities"`, file, line);
      }
      if (s === null || o === null) {
        options.issues?.add({ kind: 'triplet-dropped', file, line, docId: id, message: `triples[${i}] lost an argument` });
        return;
      }
      triplets.push({ subject: s, relation: t.predicate.surfaceform, object: o });
    });
    yield validateDocument({ id, text, spans, triplets }, { file, line }, options.issues);
  }
}
