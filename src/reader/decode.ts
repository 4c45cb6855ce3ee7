import type { CandidateSlot, ReaderPass } from './input.js';
import { FeatureView, dot, gelu, geluSum, pairContext, relationMlpLogit, sigmoid, type HeadParameters, type PassOutput } from './heads.js';

/** A mention found in one pass, in window-relative words [firstWord, lastWord]. */
export interface PassMention {
  readonly firstWord: number;
  readonly lastWord: number;
  /** Subword positions of the mention's first and last subword in the pass. */
  readonly startPosition: number;
  readonly endPosition: number;
  /** P(start)·P(end | start); 1 for given mentions. */
  readonly detectionScore: number;
}

export interface LinkedMention extends PassMention {
  /** Index into the window's entity candidates; -1 = NME. */
  readonly candidate: number;
  readonly linkScore: number;
  /** NME by the link threshold only: the candidate that was most probable, and its probability. */
  readonly belowThreshold?: { readonly candidate: number; readonly score: number };
}

export interface PassTriplet {
  /** Indices into the pass's mention list. */
  readonly subject: number;
  readonly object: number;
  /** Index into the window's relation candidates. */
  readonly relation: number;
  readonly score: number;
}

export interface PassPrediction {
  readonly mentions: LinkedMention[];
  readonly triplets: PassTriplet[];
}

export interface DecodeOptions {
  readonly endsPerStart: 'one' | 'all';
  readonly relationThreshold: number;
  readonly linkEntities: boolean;
  readonly extractRelations: boolean;
  /**
   * Log-prior bonus added to a mention's logit for one candidate (index into the window's entity candidates; -1
   * for NME), e.g. weight x log p(entity | mention text); the mention links to the argmax of the sums.
   */
  readonly linkBonus?: (mention: PassMention, candidate: number) => number;
  /** A mention whose best entity has a lower probability than this is NME (0 or absent: the argmax stands). */
  readonly linkThreshold?: number;
  /** Given mentions as window-relative [firstWord, lastWord]; skips mention detection. */
  readonly givenMentions?: readonly (readonly [number, number])[];
}

/** Finds mentions: starts with P > 0.5 at word starts, then ends (P > 0.5) at word ends at or after the start. */
export function detectMentions(pass: ReaderPass, view: FeatureView, endsPerStart: 'one' | 'all'): PassMention[] {
  const mentions: PassMention[] = [];
  const count = pass.subwordWord.length;
  // End-side features are read once per pass, not once per (start, end) pair.
  const endParts = pass.isWordEnd.map((isEnd, t) => (isEnd ? view.block('end_t', t + 1) : null));
  const weight = view.endWeight;
  const bias = view.endBias;
  for (let s = 0; s < count; s++) {
    if (!pass.isWordStart[s]) continue;
    const startProbability = sigmoid(view.startLogit(s + 1));
    if (!(startProbability > 0.5)) continue;
    const startPart = view.block('end_s', s + 1);
    let best: PassMention | undefined;
    for (let t = s; t < count; t++) {
      const endPart = endParts[t];
      if (endPart === null || endPart === undefined) continue;
      let logit = bias;
      for (let e = 0; e < startPart.length; e++) logit += (weight[e] as number) * gelu((startPart[e] as number) + (endPart[e] as number));
      const endProbability = sigmoid(logit);
      if (!(endProbability > 0.5)) continue;
      const mention: PassMention = {
        firstWord: pass.subwordWord[s] as number,
        lastWord: pass.subwordWord[t] as number,
        startPosition: s + 1,
        endPosition: t + 1,
        detectionScore: startProbability * endProbability,
      };
      if (endsPerStart === 'all') mentions.push(mention);
      else if (best === undefined || mention.detectionScore > best.detectionScore) best = mention;
    }
    if (best !== undefined) mentions.push(best);
  }
  return mentions;
}

/** Maps given word ranges to pass positions (first subword of the first word, last subword of the last word). */
export function givenMentionsToPositions(pass: ReaderPass, given: readonly (readonly [number, number])[]): PassMention[] {
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  pass.subwordWord.forEach((word, i) => {
    if (!first.has(word)) first.set(word, i + 1);
    last.set(word, i + 1);
  });
  const mentions: PassMention[] = [];
  for (const [firstWord, lastWord] of given) {
    const startPosition = first.get(firstWord);
    const endPosition = last.get(lastWord);
    if (startPosition === undefined || endPosition === undefined) continue; // words with no subwords cannot be read
    mentions.push({ firstWord, lastWord, startPosition, endPosition, detectionScore: 1 });
  }
  return mentions;
}

/**
 * Decodes one pass (docs/BUNDLE.md "Heads"): mentions, their entity (argmax over the pass's entity markers,
 * NME included), and relations between ordered pairs of distinct mentions above the threshold.
 */
export function decodePass(pass: ReaderPass, output: PassOutput, heads: HeadParameters, options: DecodeOptions): PassPrediction {
  const view = new FeatureView(output, heads);
  const found = options.givenMentions === undefined ? detectMentions(pass, view, options.endsPerStart) : givenMentionsToPositions(pass, options.givenMentions);

  // Entity scores E_k · M for every mention and entity marker.
  const entityVectors = options.linkEntities || view.has('subj_ent') ? pass.entitySlots.map((slot) => geluSum(view.block('el_s', slot.position), view.block('el_t', slot.position))) : [];
  const entityLogits = entityVectors.length === 0 ? found.map(() => []) : found.map((m) => {
    const mentionVector = geluSum(view.block('el_s', m.startPosition), view.block('el_t', m.endPosition));
    return entityVectors.map((e) => dot(e, mentionVector));
  });

  const mentions: LinkedMention[] = found.map((m, i) => {
    const logits = entityLogits[i] as number[];
    if (!options.linkEntities || logits.length === 0) return { ...m, candidate: -1, linkScore: m.detectionScore };
    const bonus = options.linkBonus;
    const probabilities = softmax(bonus === undefined ? logits : logits.map((l, k) => l + bonus(m, (pass.entitySlots[k] as CandidateSlot).candidate)));
    return { ...m, ...chooseEntity(pass.entitySlots, probabilities, options.linkThreshold ?? 0) };
  });

  const triplets = options.extractRelations ? scoreRelations(pass, view, heads, found, entityLogits, options.relationThreshold) : [];
  return { mentions, triplets };
}

/**
 * The most probable slot's candidate (-1 = NME) and its probability; a candidate below `threshold` gives way to
 * NME, scored by the probability of the NME slot (0 when the pass has none), and is kept as `belowThreshold`.
 */
export function chooseEntity(slots: readonly CandidateSlot[], probabilities: readonly number[], threshold: number): Pick<LinkedMention, 'candidate' | 'linkScore' | 'belowThreshold'> {
  const best = argmax(probabilities);
  const candidate = (slots[best] as CandidateSlot).candidate;
  const score = probabilities[best] as number;
  if (candidate < 0 || score >= threshold) return { candidate, linkScore: score };
  const nme = slots.findIndex((slot) => slot.candidate < 0);
  return { candidate: -1, linkScore: nme < 0 ? 0 : (probabilities[nme] as number), belowThreshold: { candidate, score } };
}

function scoreRelations(
  pass: ReaderPass,
  view: FeatureView,
  heads: HeadParameters,
  mentions: readonly PassMention[],
  entityLogits: readonly (readonly number[])[],
  threshold: number,
): PassTriplet[] {
  if (mentions.length < 2 || pass.relationSlots.length === 0) return [];
  const conditioned = view.has('subj_ent') && pass.entitySlots.length > 0;
  // EL-conditioned term: Σ_k σ(E_k·M) X_k projected, for cie readers.
  const entityTerm = (name: string, m: number): Float32Array | undefined => {
    if (!conditioned) return undefined;
    const logits = entityLogits[m] as readonly number[];
    const size = view.block(name, 0).length;
    const sum = new Float32Array(size);
    pass.entitySlots.forEach((slot, k) => {
      const weight = sigmoid(logits[k] as number);
      const row = view.block(name, slot.position);
      for (let e = 0; e < size; e++) sum[e] = (sum[e] as number) + weight * (row[e] as number);
    });
    return sum;
  };
  const subjects = mentions.map((m, i) => geluSum(view.block('subj_s', m.startPosition), view.block('subj_t', m.endPosition), entityTerm('subj_ent', i)));
  const objects = mentions.map((m, i) => geluSum(view.block('obj_s', m.startPosition), view.block('obj_t', m.endPosition), entityTerm('obj_ent', i)));
  const relations = pass.relationSlots.map((slot) => {
    const r = view.block('rel', slot.position);
    const out = new Float32Array(r.length);
    for (let e = 0; e < r.length; e++) out[e] = gelu(r[e] as number);
    return out;
  });
  const weightedRelations = relations.map((relation) => relation.map((v, e) => v * (heads.relationWeight[e] as number)));

  const triplets: PassTriplet[] = [];
  const size = heads.relationWeight.length;
  const product = new Float32Array(size);
  const scratch = new Float32Array(size);
  const mlp = heads.relationMlp;
  const contextWeight = heads.relationContextWeight;
  // C ⊙ v per unordered pair (the context between two mentions is the same in both directions)
  const contexts = new Map<number, Float32Array | undefined>();
  const weightedContext = (s: number, o: number): Float32Array | undefined => {
    if (contextWeight === undefined) return undefined;
    const key = Math.min(s, o) * mentions.length + Math.max(s, o);
    if (!contexts.has(key)) {
      const context = pairContext(view, mentions[s] as PassMention, mentions[o] as PassMention);
      contexts.set(key, context?.map((v, e) => v * (contextWeight[e] as number)));
    }
    return contexts.get(key);
  };
  for (let s = 0; s < mentions.length; s++) {
    const subject = subjects[s] as Float32Array;
    for (let o = 0; o < mentions.length; o++) {
      if (o === s) continue;
      const object = objects[o] as Float32Array;
      for (let e = 0; e < size; e++) product[e] = (subject[e] as number) * (object[e] as number);
      const context = weightedContext(s, o);
      weightedRelations.forEach((relation, r) => {
        const nonLinear = mlp === undefined ? 0 : relationMlpLogit(mlp, product, relations[r] as Float32Array, scratch);
        const contextual = context === undefined ? 0 : dot(context, relations[r] as Float32Array);
        const score = sigmoid(dot(product, relation) + heads.relationBias + nonLinear + contextual);
        if (score > threshold) triplets.push({ subject: s, object: o, relation: (pass.relationSlots[r] as { candidate: number }).candidate, score });
      });
    }
  }
  return triplets;
}

function argmax(values: readonly number[]): number {
  let best = 0;
  for (let k = 1; k < values.length; k++) if ((values[k] as number) > (values[best] as number)) best = k;
  return best;
}

export function softmax(logits: readonly number[]): number[] {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  const exps = logits.map((v) => Math.exp(v - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((v) => v / total);
}
