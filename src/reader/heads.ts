/** Feature blocks the reader graph emits per position, and the head parameters applied in TypeScript. */
export interface HeadParameters {
  readonly featureSize: number;
  /** name -> [offset, size] inside the feature vector of a position. */
  readonly blocks: ReadonlyMap<string, readonly [number, number]>;
  /** P(end t | start s) = sigmoid(endWeight · gelu(end_s[s] + end_t[t]) + endBias). */
  readonly endWeight: Float32Array;
  readonly endBias: number;
  readonly relationWeight: Float32Array;
  readonly relationBias: number;
  /** Optional non-linear part of the relation logit (heads.json "relationMlp"); absent: the trilinear term alone. */
  readonly relationMlp?: RelationMlp;
  /**
   * Optional pair-context term (heads.json "relationContextWeight" v, over the "ctx" block): v · (C ⊙ R) added to
   * the relation logit, C = {@link pairContext}. Absent: no such term.
   */
  readonly relationContextWeight?: Float32Array;
}

/** out · gelu(weight (S ⊙ O ⊙ R) + bias), added to the trilinear relation logit. */
export interface RelationMlp {
  readonly hidden: number;
  /** hidden × headDim, row-major. */
  readonly weight: Float32Array;
  readonly bias: Float32Array;
  readonly out: Float32Array;
}

/** The MLP's share of one relation logit; `product` is S ⊙ O, `relation` is R (gelu'd), `scratch` has headDim slots. */
export function relationMlpLogit(mlp: RelationMlp, product: Float32Array, relation: Float32Array, scratch: Float32Array): number {
  const size = product.length;
  for (let e = 0; e < size; e++) scratch[e] = (product[e] as number) * (relation[e] as number);
  let logit = 0;
  for (let h = 0; h < mlp.hidden; h++) {
    let sum = mlp.bias[h] as number;
    const row = h * size;
    for (let e = 0; e < size; e++) sum += (mlp.weight[row + e] as number) * (scratch[e] as number);
    logit += (mlp.out[h] as number) * gelu(sum);
  }
  return logit;
}

/** The subword positions of a mention in a pass. */
export interface MentionPositions {
  readonly startPosition: number;
  readonly endPosition: number;
}

/**
 * C = gelu(max of the "ctx" block over the positions strictly between two mentions: after the earlier one's end,
 * before the later one's start), the same for both directions; undefined when no position lies between (adjacent or
 * overlapping mentions), where the pair-context term is 0.
 */
export function pairContext(view: FeatureView, a: MentionPositions, b: MentionPositions): Float32Array | undefined {
  const low = Math.min(a.endPosition, b.endPosition) + 1;
  const high = Math.max(a.startPosition, b.startPosition);
  if (low >= high) return undefined;
  const pooled = Float32Array.from(view.block('ctx', low));
  for (let p = low + 1; p < high; p++) {
    const row = view.block('ctx', p);
    for (let e = 0; e < pooled.length; e++) if ((row[e] as number) > (pooled[e] as number)) pooled[e] = row[e] as number;
  }
  for (let e = 0; e < pooled.length; e++) pooled[e] = gelu(pooled[e] as number);
  return pooled;
}

/** Output of one reader pass: a start logit and a feature vector per position. */
export interface PassOutput {
  readonly startLogit: Float32Array;
  readonly features: Float32Array;
}

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** GeLU with the exact erf, as torch.nn.functional.gelu's default. */
export function geluExact(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

// The heads evaluate GeLU hundreds of thousands of times per document: a table with linear interpolation
// (step 1/1024 on [-8, 8], error below 1e-7) replaces erf's exponential. Outside the range GeLU is x or 0
// to within 1e-14.
const GELU_RANGE = 8;
const GELU_STEPS_PER_UNIT = 1024;
const GELU_TABLE = (() => {
  const table = new Float64Array(2 * GELU_RANGE * GELU_STEPS_PER_UNIT + 2);
  for (let i = 0; i < table.length; i++) table[i] = geluExact(i / GELU_STEPS_PER_UNIT - GELU_RANGE);
  return table;
})();

/** GeLU (erf form), tabulated: matches {@link geluExact} to 1e-7. */
export function gelu(x: number): number {
  if (x >= GELU_RANGE) return x;
  if (x <= -GELU_RANGE) return 0;
  const position = (x + GELU_RANGE) * GELU_STEPS_PER_UNIT;
  const i = Math.floor(position);
  const low = GELU_TABLE[i] as number;
  return low + ((GELU_TABLE[i + 1] as number) - low) * (position - i);
}

/** erf with |error| < 1.2e-7 (Numerical Recipes erfc Chebyshev fit). */
export function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - r : r - 1;
}

/** Reads feature blocks of one pass. */
export class FeatureView {
  constructor(
    private readonly output: PassOutput,
    private readonly heads: HeadParameters,
  ) {}

  startLogit(position: number): number {
    return this.output.startLogit[position] as number;
  }

  /** The `name` block at `position` (a view, not a copy). */
  block(name: string, position: number): Float32Array {
    const entry = this.heads.blocks.get(name);
    if (entry === undefined) throw new Error(`reader features have no block ${JSON.stringify(name)}`);
    const base = position * this.heads.featureSize + entry[0];
    return this.output.features.subarray(base, base + entry[1]);
  }

  get endWeight(): Float32Array {
    return this.heads.endWeight;
  }

  get endBias(): number {
    return this.heads.endBias;
  }

  has(name: string): boolean {
    return this.heads.blocks.has(name);
  }
}

/** gelu(a + b [+ c]) element-wise into a new array. */
export function geluSum(a: Float32Array, b: Float32Array, c?: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = gelu((a[i] as number) + (b[i] as number) + (c === undefined ? 0 : (c[i] as number)));
  return out;
}

export function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] as number) * (b[i] as number);
  return sum;
}
