/**
 * Reader for the staged AIDA-CoNLL files (`aida_{train,testa,testb}.jsonl`, ReLiK EL format with
 * `doc_words`). Character offsets in the source are Python code points; they are converted to UTF-16.
 */
import { NME_LABEL } from '../../types.js';
import { DatasetError } from '../errors.js';
import type { IssueLog } from '../issues.js';
import { isRecord, readJsonl } from '../jsonl.js';
import { alignWords, codePointToUtf16 } from '../offsets.js';
import { validateDocument, type EvalDocument, type GoldSpan } from '../schema.js';

/** Options of {@link readAida}. */
export interface AidaOptions {
  readonly issues?: IssueLog;
}

/**
 * Streams an AIDA ReLiK-EL JSONL file. Linked mentions get `label` = Wikipedia title and `id` = the same title
 * (the KB id, see {@link readKb}); NME mentions get `label` = `--NME--` and no id. Words come from `doc_words`,
 * located in order in `doc_text`.
 */
export async function* readAida(file: string, options: AidaOptions = {}): AsyncGenerator<EvalDocument> {
  for await (const { line, value } of readJsonl(file)) {
    const fail = (reason: string): never => {
      throw new DatasetError(reason, file, line);
    };
    if (!isRecord(value)) fail('expected a JSON object with doc_id, doc_text, doc_span_annotations');
    const rec = value as Record<string, unknown>;
    const { doc_id: id, doc_text: text, doc_words: tokens } = rec;
    if (typeof id !== 'string' && typeof id !== 'number') fail('"doc_id" must be a string or number');
    if (typeof text !== 'string') fail('"doc_text" must be a string');
    const docText = text as string;
    let words;
    if (tokens !== undefined) {
      if (!Array.isArray(tokens) || !tokens.every((t): t is string => typeof t === 'string')) {
        fail('"doc_words" must be an array of strings');
      }
      words = alignWords(docText, tokens as string[]) ?? fail('"doc_words" cannot be located in order in "doc_text"');
    }
    const toUtf16 = codePointToUtf16(docText);
    const raw = rec.doc_span_annotations ?? [];
    if (!Array.isArray(raw)) fail('"doc_span_annotations" must be an array');
    const spans: GoldSpan[] = (raw as unknown[]).map((a, i) => {
      if (!Array.isArray(a) || !Number.isInteger(a[0]) || !Number.isInteger(a[1]) || typeof a[2] !== 'string') {
        fail(`doc_span_annotations[${i}] must be [start_char, end_char, title]`);
      }
      const [s, e, title] = a as [number, number, string];
      const span = { start: toUtf16(s), end: toUtf16(e) };
      return title === NME_LABEL ? { ...span, label: NME_LABEL } : { ...span, label: title, id: title };
    });
    yield validateDocument(
      { id: String(id), text: docText, ...(words ? { words } : {}), spans, triplets: [] },
      { file, line },
      options.issues,
    );
  }
}

/** The AIDA document number ("1163" for "1163testb SOCCER"), which keys the PPRforNED candidate lists. */
export function aidaDocNumber(docId: string): string {
  const m = /^\s*(\d+)/.exec(docId);
  if (!m?.[1]) throw new RangeError(`docId must start with the AIDA document number, got ${JSON.stringify(docId)}`);
  return m[1];
}
