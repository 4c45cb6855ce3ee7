import type { Task } from '../types.js';

/** Token ids the input builder needs from the reader tokenizer. */
export interface ReaderVocabulary {
  readonly clsId: number;
  readonly sepId: number;
  /** `<ST_0>`, `<ST_1>`, … (index 0 is NME). */
  readonly entityMarkerIds: readonly number[];
  /** `<RT_0>`, `<RT_1>`, … */
  readonly relationMarkerIds: readonly number[];
}

export interface ReaderLimits {
  /** Maximum sequence length of one forward pass. */
  readonly maxLength: number;
}

/** A candidate slot in a pass: where its marker sits and which candidate (index into the window's list) it is. */
export interface CandidateSlot {
  readonly position: number;
  /** Index into the window's candidate list; -1 for the NME slot. */
  readonly candidate: number;
}

/** One reader forward pass over a window (the window itself or one of its patches). */
export interface ReaderPass {
  readonly inputIds: readonly number[];
  /** Window subwords occupy positions [1, 1 + subwordWord.length). */
  readonly subwordWord: readonly number[];
  /** For each window subword: does it start / end its word? Mentions start and end only at word edges. */
  readonly isWordStart: readonly boolean[];
  readonly isWordEnd: readonly boolean[];
  readonly entitySlots: readonly CandidateSlot[];
  readonly relationSlots: readonly CandidateSlot[];
}

export interface ReaderPasses {
  readonly passes: ReaderPass[];
  /** Candidates that could not be placed in any pass (too long even alone, or past the marker limit). */
  readonly dropped: number;
}

export interface WindowReaderInput {
  readonly task: Task;
  /** Subword ids of each word of the window. */
  readonly wordIds: readonly (readonly number[])[];
  /** Subword ids of each entity candidate title (already cut to the bundle's maxCandidateTokens). */
  readonly entityCandidates: readonly (readonly number[])[];
  readonly relationCandidates: readonly (readonly number[])[];
}

/** Subword count of a window's text part: [CLS] + subwords + [SEP]. */
export function windowTextLength(wordIds: readonly (readonly number[])[]): number {
  let length = 2;
  for (const ids of wordIds) length += ids.length;
  return length;
}

/**
 * Builds the reader passes of one window (docs/BUNDLE.md "Reader input"):
 * `[CLS] words [SEP] <ST_0> <ST_1> title… [SEP] <RT_0> relation… [SEP]` (sections per task).
 * When the candidates do not fit in `maxLength`, the patched list (entities for el/cie, relations for re)
 * is split in order across several passes, each repeating the window and restarting marker numbering.
 */
export function buildReaderPasses(input: WindowReaderInput, vocabulary: ReaderVocabulary, limits: ReaderLimits): ReaderPasses {
  const { task } = input;
  const usesEntities = task !== 're';
  const usesRelations = task !== 'el';

  const textIds: number[] = [vocabulary.clsId];
  const subwordWord: number[] = [];
  const isWordStart: boolean[] = [];
  const isWordEnd: boolean[] = [];
  input.wordIds.forEach((ids, word) => {
    ids.forEach((id, k) => {
      textIds.push(id);
      subwordWord.push(word);
      isWordStart.push(k === 0);
      isWordEnd.push(k === ids.length - 1);
    });
  });
  textIds.push(vocabulary.sepId);

  let dropped = 0;
  // Fixed relation section for cie: every pass carries all relations (closed, small sets).
  let fixedRelations: number[] = [];
  let fixedRelationSlots: number[] = [];
  if (task === 'cie') {
    const limit = Math.min(input.relationCandidates.length, vocabulary.relationMarkerIds.length);
    dropped += input.relationCandidates.length - limit;
    fixedRelationSlots = Array.from({ length: limit }, (_, r) => r);
    fixedRelations = fixedRelationSlots.flatMap((r) => [vocabulary.relationMarkerIds[r] as number, ...(input.relationCandidates[r] as number[])]);
  }

  const patched = usesEntities ? input.entityCandidates : input.relationCandidates;
  const markerIds = usesEntities ? vocabulary.entityMarkerIds : vocabulary.relationMarkerIds;
  const firstMarker = usesEntities ? 1 : 0; // <ST_0> is reserved for NME
  const perPass = markerIds.length - firstMarker;
  // Length without any patched candidate: text, NME marker, cie middle [SEP] + relations, closing [SEP].
  const fixedLength = textIds.length + (usesEntities ? 1 : 0) + (task === 'cie' ? 1 + fixedRelations.length : 0) + 1;

  const groups: number[][] = [[]];
  let used = fixedLength;
  patched.forEach((ids, index) => {
    const cost = 1 + ids.length;
    if (fixedLength + cost > limits.maxLength) {
      dropped += 1;
      return;
    }
    let group = groups[groups.length - 1] as number[];
    if (used + cost > limits.maxLength || group.length >= perPass) {
      group = [];
      groups.push(group);
      used = fixedLength;
    }
    group.push(index);
    used += cost;
  });

  const passes = groups.map((group): ReaderPass => {
    const ids = textIds.slice();
    const entitySlots: CandidateSlot[] = [];
    const relationSlots: CandidateSlot[] = [];
    const place = (slots: CandidateSlot[], marker: number, candidate: number, title: readonly number[]): void => {
      slots.push({ position: ids.length, candidate });
      ids.push(marker);
      for (const id of title) ids.push(id);
    };
    if (usesEntities) {
      place(entitySlots, vocabulary.entityMarkerIds[0] as number, -1, []);
      group.forEach((candidate, k) => place(entitySlots, markerIds[k + firstMarker] as number, candidate, input.entityCandidates[candidate] as number[]));
    } else {
      group.forEach((candidate, k) => place(relationSlots, markerIds[k] as number, candidate, input.relationCandidates[candidate] as number[]));
    }
    if (task === 'cie') {
      ids.push(vocabulary.sepId);
      fixedRelationSlots.forEach((r) => place(relationSlots, vocabulary.relationMarkerIds[r] as number, r, input.relationCandidates[r] as number[]));
    }
    ids.push(vocabulary.sepId);
    return { inputIds: ids, subwordWord, isWordStart, isWordEnd, entitySlots, relationSlots };
  });
  return { passes, dropped };
}
