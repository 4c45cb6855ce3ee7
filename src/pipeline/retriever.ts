import { join } from 'node:path';
import { BundleError } from '../errors.js';
import type { DocumentNames } from '../index/aliases.js';
import { ModelSession, type SessionOptions } from '../runtime/onnx.js';
import { SubwordTokenizer } from '../text/tokenizer.js';

/** A retrieval query: the window's words and, optionally, the document topic (its first word). */
export interface RetrievalQuery {
  readonly words: readonly string[];
  readonly topic?: string;
  /** Names the window's document gives its entities (name lookup only). */
  readonly documentNames?: DocumentNames;
}

const QUERY_BATCH = 32;

/** Bi-encoder side of ReLiK: embeds windows (queries) and passages with the same encoder. */
export class Retriever {
  private constructor(
    readonly tokenizer: SubwordTokenizer,
    private readonly session: ModelSession,
    readonly maxQueryTokens: number,
    /** False when the session is the reader's (shared encoder): the reader releases it. */
    private readonly ownsSession: boolean,
  ) {}

  static async load(dir: string, maxQueryTokens: number, options: SessionOptions): Promise<Retriever> {
    const tokenizer = await SubwordTokenizer.load(join(dir, 'tokenizer.json'));
    const session = await ModelSession.load(join(dir, 'model.onnx'), ['embedding'], options);
    return new Retriever(tokenizer, session, maxQueryTokens, true);
  }

  /**
   * A retriever on another component's loaded graph (a bundle whose retriever is the reader's encoder: one
   * graph with an "embedding" output besides the reader's). The graph is loaded, and held in memory, once.
   */
  static sharing(tokenizer: SubwordTokenizer, session: ModelSession, maxQueryTokens: number): Retriever {
    if (!session.outputNames.includes('embedding')) {
      throw new BundleError(`model has no output "embedding" for the retriever (outputs: ${session.outputNames.join(', ')})`, session.path);
    }
    return new Retriever(tokenizer, session, maxQueryTokens, false);
  }

  /** `[CLS] words [SEP] (topic [SEP])`, the words cut so the whole fits in `maxTokens`. */
  queryIds(query: RetrievalQuery, maxTokens = this.maxQueryTokens): number[] {
    const topic = query.topic === undefined ? [] : [...this.tokenizer.encodeWord(query.topic), this.tokenizer.sepId];
    const budget = Math.max(1, maxTokens - 2 - topic.length);
    const ids: number[] = [];
    for (const word of query.words) {
      for (const id of this.tokenizer.encodeWord(word)) {
        if (ids.length === budget) break;
        ids.push(id);
      }
    }
    return [this.tokenizer.clsId, ...ids, this.tokenizer.sepId, ...topic];
  }

  /** `[CLS] passage [SEP]`, cut to `maxTokens`. */
  passageIds(text: string, maxTokens: number): number[] {
    return [this.tokenizer.clsId, ...this.tokenizer.encodeText(text).slice(0, Math.max(1, maxTokens - 2)), this.tokenizer.sepId];
  }

  /**
   * Embeds id sequences in batches; returns count x dim row-major. Every batch has at least two rows (a lone
   * sequence runs as two copies) and at least one padding token after its longest sequence: onnxruntime computes a
   * single row, and a sequence with no padding after it, on other kernel paths than the rest (the vector differs in
   * its last bits, up to 9e-7), and candidate scores, hence the context-weighted name prior, must not depend on what
   * else shares the batch (checked: any batch size, row position and padding length give the same bits).
   */
  async embed(sequences: readonly (readonly number[])[], onBatch?: (done: number) => void): Promise<{ vectors: Float32Array; dim: number }> {
    let vectors: Float32Array | undefined;
    let dim = 0;
    for (let start = 0; start < sequences.length; start += QUERY_BATCH) {
      const batch = sequences.slice(start, start + QUERY_BATCH);
      const longest = Math.max(...batch.map((s) => s.length));
      const out = (await this.session.run(batch.length === 1 ? [...batch, ...batch] : batch, this.tokenizer.padId, longest + 1)).get('embedding');
      if (out === undefined || out.dims.length !== 2) throw new BundleError('retriever must return embedding [batch, dim]', this.session.path);
      dim = out.dims[1] as number;
      vectors ??= new Float32Array(sequences.length * dim);
      vectors.set(out.data.subarray(0, batch.length * dim), start * dim);
      onBatch?.(Math.min(start + QUERY_BATCH, sequences.length));
    }
    return { vectors: vectors ?? new Float32Array(0), dim };
  }

  async release(): Promise<void> {
    if (this.ownsSession) await this.session.release();
  }
}
