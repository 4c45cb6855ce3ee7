/**
 * The ReLiK-TS evaluation document schema (one JSON object per line, see docs/DATASETS.md) and its validating
 * parser. Offsets are UTF-16 code units (JavaScript string indices), `end` exclusive.
 */
import type { Word } from '../types.js';
import { DatasetError } from './errors.js';
import type { IssueLog } from './issues.js';
import { isRecord, readJsonl } from './jsonl.js';

/** A gold mention. `label` is a KB title (or an entity type for CoNLL04), or `--NME--`; `id` a KB id. */
export interface GoldSpan {
  readonly start: number;
  readonly end: number;
  readonly label?: string;
  readonly id?: string;
}

/** A gold relation between two spans of the same document (indices into `spans`). */
export interface GoldTriplet {
  readonly subject: number;
  readonly relation: string;
  readonly object: number;
}

/** One evaluation document. */
export interface EvalDocument {
  readonly id: string;
  readonly text: string;
  /** The dataset's own tokenisation; passed to the model so it sees gold word boundaries. */
  readonly words?: readonly Word[];
  readonly spans: readonly GoldSpan[];
  readonly triplets: readonly GoldTriplet[];
}

/** Where a document came from, for error messages. */
export interface SourceLocation {
  readonly file: string;
  /** 1-based line (JSONL) or record number (JSON arrays). */
  readonly line: number;
}

const DOC_KEYS = new Set(['id', 'text', 'words', 'spans', 'triplets']);
const SPAN_KEYS = new Set(['start', 'end', 'label', 'id']);
const TRIPLET_KEYS = new Set(['subject', 'relation', 'object']);
const WORD_KEYS = new Set(['text', 'start', 'end']);

function checkKeys(obj: Record<string, unknown>, allowed: Set<string>, what: string, fail: (r: string) => never): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.has(key)) fail(`${what} has unknown field "${key}"; allowed fields: ${[...allowed].join(', ')}`);
  }
}

function isOffset(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

function parseWords(value: unknown, text: string, fail: (r: string) => never): Word[] {
  if (!Array.isArray(value)) fail('"words" must be an array of {text, start, end}');
  const words: Word[] = [];
  let prevEnd = 0;
  value.forEach((w: unknown, i) => {
    if (!isRecord(w)) fail(`words[${i}] must be an object {text, start, end}`);
    checkKeys(w, WORD_KEYS, `words[${i}]`, fail);
    const { text: wt, start, end } = w;
    if (typeof wt !== 'string' || !isOffset(start) || !isOffset(end)) {
      fail(`words[${i}] needs a string "text" and integer "start" and "end"`);
    }
    if (start < prevEnd || end <= start || end > text.length) {
      fail(`words[${i}] [${start}, ${end}) must be non-empty, in order, non-overlapping and inside the text (length ${text.length})`);
    }
    if (text.slice(start, end) !== wt) {
      fail(`words[${i}].text ${JSON.stringify(wt)} differs from text.slice(${start}, ${end}) = ${JSON.stringify(text.slice(start, end))}`);
    }
    words.push({ text: wt, start, end });
    prevEnd = end;
  });
  return words;
}

/**
 * Validates one evaluation document (already JSON-parsed). Structural problems (missing or mistyped fields,
 * unknown fields, invalid words, triplets pointing at no span) throw a {@link DatasetError} naming the file and
 * line. Spans that lie outside the text are dropped and recorded in `issues` (kind `span-outside-text`), as are
 * the triplets that used them (`triplet-dropped`); without an `issues` log they throw instead.
 */
export function validateDocument(value: unknown, where: SourceLocation, issues?: IssueLog): EvalDocument {
  const fail = (reason: string): never => {
    throw new DatasetError(reason, where.file, where.line);
  };
  if (!isRecord(value)) fail('a document must be a JSON object {id, text, words?, spans, triplets}');
  const doc = value as Record<string, unknown>;
  checkKeys(doc, DOC_KEYS, 'document', fail);
  const { id, text } = doc;
  if (typeof id !== 'string' || id === '') fail('"id" must be a non-empty string');
  if (typeof text !== 'string') fail('"text" must be a string');
  const docId = id as string;
  const docText = text as string;
  const words = doc.words === undefined ? undefined : parseWords(doc.words, docText, fail);

  const rawSpans = doc.spans ?? [];
  if (!Array.isArray(rawSpans)) fail('"spans" must be an array of {start, end, label?, id?}');
  const spans: GoldSpan[] = [];
  const remap: (number | null)[] = [];
  (rawSpans as unknown[]).forEach((s, i) => {
    if (!isRecord(s)) fail(`spans[${i}] must be an object {start, end, label?, id?}`);
    const span = s as Record<string, unknown>;
    checkKeys(span, SPAN_KEYS, `spans[${i}]`, fail);
    const { start, end, label, id: kbId } = span;
    if (!isOffset(start) || !isOffset(end)) fail(`spans[${i}] needs integer "start" and "end" (UTF-16 offsets)`);
    if ((end as number) <= (start as number)) fail(`spans[${i}] has end ${String(end)} <= start ${String(start)}`);
    if (label !== undefined && typeof label !== 'string') fail(`spans[${i}].label must be a string`);
    if (kbId !== undefined && typeof kbId !== 'string') fail(`spans[${i}].id must be a string`);
    const st = start as number;
    const en = end as number;
    if (st < 0 || en > docText.length) {
      const message = `span [${st}, ${en}) is outside the text (length ${docText.length})`;
      if (!issues) fail(`spans[${i}]: ${message}`);
      issues?.add({ kind: 'span-outside-text', file: where.file, line: where.line, docId, message });
      remap.push(null);
      return;
    }
    remap.push(spans.length);
    spans.push({
      start: st,
      end: en,
      ...(label !== undefined ? { label: label as string } : {}),
      ...(kbId !== undefined ? { id: kbId as string } : {}),
    });
  });

  const rawTriplets = doc.triplets ?? [];
  if (!Array.isArray(rawTriplets)) fail('"triplets" must be an array of {subject, relation, object}');
  const triplets: GoldTriplet[] = [];
  (rawTriplets as unknown[]).forEach((t, i) => {
    if (!isRecord(t)) fail(`triplets[${i}] must be an object {subject, relation, object}`);
    const trip = t as Record<string, unknown>;
    checkKeys(trip, TRIPLET_KEYS, `triplets[${i}]`, fail);
    const { subject, relation, object } = trip;
    if (typeof relation !== 'string' || relation === '') fail(`triplets[${i}].relation must be a non-empty string`);
    for (const [name, idx] of [['subject', subject], ['object', object]] as const) {
      if (!isOffset(idx) || idx < 0 || idx >= remap.length) {
        fail(`triplets[${i}].${name} must be an index into spans (0..${remap.length - 1}), got ${JSON.stringify(idx)}`);
      }
    }
    const s = remap[subject as number] ?? null;
    const o = remap[object as number] ?? null;
    if (s === null || o === null) {
      issues?.add({
        kind: 'triplet-dropped',
        file: where.file,
        line: where.line,
        docId,
        message: `triplets[${i}] (${relation as string}) uses a span outside the text`,
      });
      return;
    }
    triplets.push({ subject: s, relation: relation as string, object: o });
  });

  return { id: docId, text: docText, ...(words ? { words } : {}), spans, triplets };
}

/**
 * Parses one line of an evaluation JSONL file. Invalid JSON or an invalid document throws a
 * {@link DatasetError} with `file` and `line`.
 */
export function parseDocumentLine(line: string, where: SourceLocation, issues?: IssueLog): EvalDocument {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw new DatasetError(`invalid JSON: ${(err as Error).message}`, where.file, where.line);
  }
  return validateDocument(value, where, issues);
}

/**
 * Streams an evaluation JSONL file in the ReLiK-TS schema. Document ids must be unique within the file.
 */
export async function* readEvalJsonl(file: string, issues?: IssueLog): AsyncGenerator<EvalDocument> {
  const seen = new Set<string>();
  for await (const { line, value } of readJsonl(file)) {
    const doc = validateDocument(value, { file, line }, issues);
    if (seen.has(doc.id)) throw new DatasetError(`duplicate document id "${doc.id}"`, file, line);
    seen.add(doc.id);
    yield doc;
  }
}

/** Serialises a document as one line of the schema (the inverse of {@link parseDocumentLine}). */
export function documentToJsonl(doc: EvalDocument): string {
  return JSON.stringify({
    id: doc.id,
    text: doc.text,
    ...(doc.words ? { words: doc.words } : {}),
    spans: doc.spans,
    triplets: doc.triplets,
  });
}
