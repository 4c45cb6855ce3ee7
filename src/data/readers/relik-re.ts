/**
 * Reader for the ReLiK RE format (`doc_words`, token-level `doc_span_annotations` and
 * `doc_triplet_annotations`), used by the staged CoNLL04 and NYT files.
 */
import { DatasetError } from '../errors.js';
import type { IssueLog } from '../issues.js';
import { isRecord, readJsonl } from '../jsonl.js';
import { joinWords } from '../offsets.js';
import { validateDocument, type EvalDocument } from '../schema.js';

/** Options of {@link readRelikRe}. */
export interface RelikReOptions {
  readonly issues?: IssueLog;
}

type TokenSpan = readonly [number, number, string];

function tokenSpan(value: unknown, what: string, fail: (r: string) => never): TokenSpan {
  if (!Array.isArray(value) || value.length < 2 || !Number.isInteger(value[0]) || !Number.isInteger(value[1])) {
    fail(`${what} must be [start_token, end_token_exclusive, type]`);
  }
  const arr = value as unknown[];
  return [arr[0] as number, arr[1] as number, typeof arr[2] === 'string' ? arr[2] : '--NME--'];
}

/**
 * Streams a ReLiK RE JSONL file as evaluation documents: `text` is the words joined by single spaces, words are
 * given, token spans become character spans and the span type (entity type, or `--NME--`) becomes its `label`.
 * Triplet arguments are matched to the span list by (tokens, type), then by tokens; an argument missing from
 * the span list is added to it.
 */
export async function* readRelikRe(file: string, options: RelikReOptions = {}): AsyncGenerator<EvalDocument> {
  for await (const { line, value } of readJsonl(file)) {
    const fail = (reason: string): never => {
      throw new DatasetError(reason, file, line);
    };
    if (!isRecord(value)) fail('expected a JSON object with doc_id, doc_words, doc_span_annotations');
    const rec = value as Record<string, unknown>;
    const tokens = rec.doc_words;
    if (!Array.isArray(tokens) || !tokens.every((t): t is string => typeof t === 'string')) {
      fail('"doc_words" must be an array of strings');
    }
    const { text, words } = joinWords(tokens as string[]);
    const spans: { start: number; end: number; label: string }[] = [];
    const byKey = new Map<string, number>();
    const charSpan = (s: TokenSpan): { start: number; end: number } => {
      if (s[1] <= s[0]) fail(`token span [${s[0]}, ${s[1]}) is empty`);
      const first = words[s[0]];
      const last = words[s[1] - 1];
      // Tokens beyond the document: an out-of-text span, which the schema validator counts and drops.
      if (!first || !last) return { start: s[0] < 0 ? -1 : text.length, end: text.length + 1 };
      return { start: first.start, end: last.end };
    };
    const addSpan = (s: TokenSpan): number => {
      const exact = byKey.get(`${s[0]}:${s[1]}:${s[2]}`) ?? byKey.get(`${s[0]}:${s[1]}`);
      if (exact !== undefined) return exact;
      const idx = spans.length;
      spans.push({ ...charSpan(s), label: s[2] });
      byKey.set(`${s[0]}:${s[1]}:${s[2]}`, idx);
      if (!byKey.has(`${s[0]}:${s[1]}`)) byKey.set(`${s[0]}:${s[1]}`, idx);
      return idx;
    };
    const rawSpans = rec.doc_span_annotations ?? [];
    if (!Array.isArray(rawSpans)) fail('"doc_span_annotations" must be an array');
    (rawSpans as unknown[]).forEach((s, i) => {
      const ts = tokenSpan(s, `doc_span_annotations[${i}]`, fail);
      // Every listed span is kept, even a duplicate, so counts equal the source file's.
      const idx = spans.length;
      spans.push({ ...charSpan(ts), label: ts[2] });
      if (!byKey.has(`${ts[0]}:${ts[1]}:${ts[2]}`)) byKey.set(`${ts[0]}:${ts[1]}:${ts[2]}`, idx);
      if (!byKey.has(`${ts[0]}:${ts[1]}`)) byKey.set(`${ts[0]}:${ts[1]}`, idx);
    });
    const rawTriplets = rec.doc_triplet_annotations ?? [];
    if (!Array.isArray(rawTriplets)) fail('"doc_triplet_annotations" must be an array');
    const triplets = (rawTriplets as unknown[]).map((t, i) => {
      if (!isRecord(t) || typeof t.relation !== 'string') {
        fail(`doc_triplet_annotations[${i}] must be {subject: [s,e,type], relation, object: [s,e,type]}`);
      }
      const trip = t as Record<string, unknown>;
      return {
        subject: addSpan(tokenSpan(trip.subject, `doc_triplet_annotations[${i}].subject`, fail)),
        relation: trip.relation as string,
        object: addSpan(tokenSpan(trip.object, `doc_triplet_annotations[${i}].object`, fail)),
      };
    });
    const id = rec.doc_id;
    if (typeof id !== 'string' && typeof id !== 'number') fail('"doc_id" must be a string or number');
    yield validateDocument({ id: String(id), text, words, spans, triplets }, { file, line }, options.issues);
  }
}
