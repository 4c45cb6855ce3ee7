/**
 * Readers for the entity KB (`kb/entities.jsonl`) and the AIDA PPRforNED candidate lists.
 */
import { DatasetError } from '../errors.js';
import { isRecord, readJsonl } from '../jsonl.js';

/** One KB entity. The id is the Wikipedia title (unique in the staged KB; page ids are missing for 2,658). */
export interface KbEntity {
  readonly id: string;
  readonly title: string;
  /** First sentence of the abstract, or "" when the KB has none (all but 1,000 entries). */
  readonly description: string;
  readonly wikidataQid: string | null;
  readonly wikipediaPageId: number | null;
}

/**
 * Streams `entities.jsonl` as {@link KbEntity}s with `id` = title. A missing/empty title or a duplicate id
 * throws a {@link DatasetError} naming the file, the line and the line of the first occurrence.
 */
export async function* readKb(file: string): AsyncGenerator<KbEntity> {
  const firstLine = new Map<string, number>();
  for await (const { line, value } of readJsonl(file)) {
    if (!isRecord(value) || typeof value.title !== 'string' || value.title === '') {
      throw new DatasetError('expected {title: non-empty string, description?, wikidata_qid?, wikipedia_page_id?}', file, line);
    }
    const id = value.title;
    const seen = firstLine.get(id);
    if (seen !== undefined) throw new DatasetError(`duplicate KB id "${id}" (first on line ${seen})`, file, line);
    firstLine.set(id, line);
    yield {
      id,
      title: value.title,
      description: typeof value.description === 'string' ? value.description : '',
      wikidataQid: typeof value.wikidata_qid === 'string' ? value.wikidata_qid : null,
      wikipediaPageId: typeof value.wikipedia_page_id === 'number' ? value.wikipedia_page_id : null,
    };
  }
}

/** Loads the whole KB into a map keyed by id (see {@link readKb}). */
export async function loadKb(file: string): Promise<Map<string, KbEntity>> {
  const kb = new Map<string, KbEntity>();
  for await (const e of readKb(file)) kb.set(e.id, e);
  return kb;
}

/** One mention of the PPRforNED AIDA candidate lists. */
export interface CandidateList {
  /** AIDA document number ("1163"); see `aidaDocNumber`. */
  readonly docId: string;
  /** The mention's surface form. */
  readonly mention: string;
  readonly goldTitle: string | null;
  /** Candidate Wikipedia titles (= KB ids), in the source order. */
  readonly candidates: readonly string[];
}

/** Streams `aida_pprforned_candidates.jsonl`. */
export async function* readCandidateLists(file: string): AsyncGenerator<CandidateList> {
  for await (const { line, value } of readJsonl(file)) {
    if (
      !isRecord(value) ||
      (typeof value.doc_id !== 'string' && typeof value.doc_id !== 'number') ||
      typeof value.text !== 'string' ||
      !Array.isArray(value.candidates) ||
      !value.candidates.every((c): c is string => typeof c === 'string')
    ) {
      throw new DatasetError('expected {doc_id, text, gold_title, candidates: string[]}', file, line);
    }
    yield {
      docId: String(value.doc_id),
      mention: value.text,
      goldTitle: typeof value.gold_title === 'string' ? value.gold_title : null,
      candidates: value.candidates,
    };
  }
}

/** Groups candidate lists by AIDA document number. */
export async function loadCandidateLists(file: string): Promise<Map<string, CandidateList[]>> {
  const byDoc = new Map<string, CandidateList[]>();
  for await (const c of readCandidateLists(file)) {
    const list = byDoc.get(c.docId);
    if (list) list.push(c);
    else byDoc.set(c.docId, [c]);
  }
  return byDoc;
}
