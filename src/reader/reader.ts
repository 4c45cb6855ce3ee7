import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BundleError } from '../errors.js';
import { parseJsonObject } from '../util/json.js';
import type { ReaderSettings } from '../bundle/manifest.js';
import { ModelSession, type SessionOptions } from '../runtime/onnx.js';
import { SubwordTokenizer } from '../text/tokenizer.js';
import type { HeadParameters, PassOutput, RelationMlp } from './heads.js';
import type { ReaderPass, ReaderVocabulary } from './input.js';

/** Blocks every reader must emit, and the ones each task adds. */
const REQUIRED_BLOCKS: Readonly<Record<'base' | 'el' | 're', readonly string[]>> = {
  base: ['end_s', 'end_t'],
  el: ['el_s', 'el_t'],
  re: ['subj_s', 'subj_t', 'obj_s', 'obj_t', 'rel'],
};

/** Reads and checks reader/heads.json. */
export function parseHeads(text: string, path: string, needs: { el: boolean; re: boolean }): HeadParameters {
  const json = parseJsonObject(text, 'heads.json', (message) => new BundleError(message, path));
  if (typeof json.features !== 'object' || json.features === null) throw new BundleError('heads.json: "features" must map block names to [offset, size]', path);
  const blocks = new Map<string, readonly [number, number]>();
  let featureSize = 0;
  for (const [name, value] of Object.entries(json.features as Record<string, unknown>)) {
    if (!Array.isArray(value) || value.length !== 2 || !value.every((v) => Number.isInteger(v) && (v as number) >= 0) || (value[1] as number) < 1) {
      throw new BundleError(`heads.json: features.${name} must be [offset, size] with size >= 1`, path);
    }
    const [offset, size] = value as [number, number];
    blocks.set(name, [offset, size]);
    featureSize = Math.max(featureSize, offset + size);
  }
  const wanted = [...REQUIRED_BLOCKS.base, ...(needs.el ? REQUIRED_BLOCKS.el : []), ...(needs.re ? REQUIRED_BLOCKS.re : [])];
  for (const name of wanted) if (!blocks.has(name)) throw new BundleError(`heads.json: features has no block "${name}" needed by this task`, path);
  const vector = (field: string, block: string): Float32Array => {
    const value = json[field];
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'number')) throw new BundleError(`heads.json: ${field} must be an array of numbers`, path);
    const size = (blocks.get(block) as readonly [number, number])[1];
    if (value.length !== size) throw new BundleError(`heads.json: ${field} has ${value.length} values, the ${block} block has ${size}`, path);
    return Float32Array.from(value as number[]);
  };
  const scalar = (field: string): number => {
    const value = json[field];
    if (typeof value !== 'number') throw new BundleError(`heads.json: ${field} must be a number`, path);
    return value;
  };
  const endWeight = vector('endWeight', 'end_s');
  const endBias = scalar('endBias');
  if ((blocks.get('end_t') as readonly [number, number])[1] !== endWeight.length) throw new BundleError('heads.json: end_s and end_t blocks must have the same size', path);
  let relationWeight: Float32Array = new Float32Array(0);
  let relationBias = 0;
  let relationMlp: RelationMlp | undefined;
  let relationContextWeight: Float32Array | undefined;
  if (needs.re) {
    relationWeight = vector('relationWeight', 'rel');
    relationBias = scalar('relationBias');
    if (json.relationMlp !== undefined) relationMlp = parseRelationMlp(json.relationMlp, relationWeight.length, path);
    // the pair-context term: a "ctx" block and its weight, both or neither
    const hasContext = blocks.has('ctx');
    if (hasContext !== (json.relationContextWeight !== undefined)) {
      throw new BundleError(`heads.json: ${hasContext ? 'features has a "ctx" block but no relationContextWeight' : 'relationContextWeight needs a "ctx" block in features'}`, path);
    }
    if (hasContext) {
      relationContextWeight = vector('relationContextWeight', 'ctx');
      if (relationContextWeight.length !== relationWeight.length) throw new BundleError('heads.json: the ctx and rel blocks must have the same size', path);
    }
  }
  return {
    featureSize,
    blocks,
    endWeight,
    endBias,
    relationWeight,
    relationBias,
    ...(relationMlp === undefined ? {} : { relationMlp }),
    ...(relationContextWeight === undefined ? {} : { relationContextWeight }),
  };
}

/** heads.json "relationMlp": { hidden, weight: hidden rows of headDim numbers, bias: hidden, out: hidden }. */
function parseRelationMlp(value: unknown, headDim: number, path: string): RelationMlp {
  const fail = (what: string): never => {
    throw new BundleError(`heads.json: relationMlp${what}`, path);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(' must be an object { hidden, weight, bias, out }');
  const mlp = value as Record<string, unknown>;
  const hidden = mlp.hidden;
  if (typeof hidden !== 'number' || !Number.isInteger(hidden) || hidden < 1) return fail(`.hidden must be an integer >= 1, got ${JSON.stringify(hidden)}`);
  const isNumbers = (v: unknown, size: number): v is number[] => Array.isArray(v) && v.length === size && v.every((x) => typeof x === 'number');
  const vector = (field: 'bias' | 'out'): Float32Array => {
    const v = mlp[field];
    return isNumbers(v, hidden) ? Float32Array.from(v) : fail(`.${field} must be ${hidden} numbers`);
  };
  const rows = mlp.weight;
  if (!Array.isArray(rows) || rows.length !== hidden) fail(`.weight must have ${hidden} rows (hidden)`);
  const weight = new Float32Array(hidden * headDim);
  (rows as unknown[]).forEach((row, h) => {
    if (!isNumbers(row, headDim)) fail(`.weight[${h}] must be ${headDim} numbers (the rel block's size)`);
    weight.set(row as number[], h * headDim);
  });
  return { hidden, weight, bias: vector('bias'), out: vector('out') };
}

/** Token budget of one reader batch: padded length x batch size. */
const TOKENS_PER_BATCH = 8192;
const MAX_BATCH = 32;

/** The reader: its tokenizer, marker ids, head parameters and ONNX session. */
export class Reader {
  private constructor(
    readonly tokenizer: SubwordTokenizer,
    readonly vocabulary: ReaderVocabulary,
    readonly heads: HeadParameters,
    /** The reader graph; a bundle whose retriever is the reader's encoder also embeds queries with it. */
    readonly session: ModelSession,
  ) {}

  static async load(dir: string, settings: ReaderSettings, needs: { el: boolean; re: boolean }, options: SessionOptions): Promise<Reader> {
    const tokenizer = await SubwordTokenizer.load(join(dir, 'tokenizer.json'));
    const vocabulary: ReaderVocabulary = {
      clsId: tokenizer.clsId,
      sepId: tokenizer.sepId,
      entityMarkerIds: Array.from({ length: settings.entityMarkers }, (_, k) => tokenizer.tokenId(`<ST_${k}>`)),
      relationMarkerIds: Array.from({ length: settings.relationMarkers }, (_, k) => tokenizer.tokenId(`<RT_${k}>`)),
    };
    const headsPath = join(dir, 'heads.json');
    let headsText: string;
    try {
      headsText = await readFile(headsPath, 'utf8');
    } catch {
      throw new BundleError('heads.json is missing', headsPath);
    }
    const heads = parseHeads(headsText, headsPath, needs);
    const session = await ModelSession.load(join(dir, 'model.onnx'), ['start_logit', 'features'], options);
    return new Reader(tokenizer, vocabulary, heads, session);
  }

  /**
   * Runs all passes, batched by length (sorted, so padding stays small) under a token budget.
   * Returns outputs in the order of `passes`.
   */
  async run(passes: readonly ReaderPass[]): Promise<PassOutput[]> {
    const order = passes.map((_, i) => i).sort((a, b) => (passes[a] as ReaderPass).inputIds.length - (passes[b] as ReaderPass).inputIds.length);
    const outputs: PassOutput[] = new Array(passes.length);
    let start = 0;
    while (start < order.length) {
      let end = start + 1;
      while (end < order.length && end - start < MAX_BATCH && (passes[order[end] as number] as ReaderPass).inputIds.length * (end - start + 1) <= TOKENS_PER_BATCH) end++;
      const batch = order.slice(start, end);
      const result = await this.session.run(batch.map((i) => (passes[i] as ReaderPass).inputIds), this.tokenizer.padId);
      const startLogit = result.get('start_logit');
      const features = result.get('features');
      if (startLogit === undefined || features === undefined) throw new BundleError('reader did not return start_logit and features', this.session.path);
      const length = startLogit.dims[1] as number;
      const featureSize = features.dims[2] as number;
      if (featureSize !== this.heads.featureSize) {
        throw new BundleError(`reader features have size ${featureSize}, heads.json needs ${this.heads.featureSize}`, this.session.path);
      }
      batch.forEach((passIndex, b) => {
        outputs[passIndex] = {
          startLogit: startLogit.data.subarray(b * length, (b + 1) * length),
          features: features.data.subarray(b * length * featureSize, (b + 1) * length * featureSize),
        };
      });
      start = end;
    }
    return outputs;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
