/**
 * The one module that talks to the ML runtime (onnxruntime-node). Everything else sees `ModelSession`:
 * padded int64 batches in, named float32 tensors out. A browser build swaps this file for onnxruntime-web.
 */
import { access } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { BundleError } from '../errors.js';

export interface FloatTensor {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

export interface SessionOptions {
  /** Threads for one forward pass (default: all cores, which is best for one session). */
  readonly threads?: number;
}

/** An encoder graph with inputs `input_ids` and `attention_mask` ([batch, length], int64). */
export class ModelSession {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly path: string,
    readonly outputNames: readonly string[],
  ) {}

  static async load(path: string, expectedOutputs: readonly string[], options: SessionOptions = {}): Promise<ModelSession> {
    try {
      await access(path);
    } catch {
      throw new BundleError('model file is missing', path);
    }
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(path, {
        graphOptimizationLevel: 'all',
        ...(options.threads === undefined ? {} : { intraOpNumThreads: options.threads, interOpNumThreads: 1 }),
      });
    } catch (error) {
      throw new BundleError(`cannot load ONNX model: ${(error as Error).message.split('\n')[0]}`, path);
    }
    for (const name of ['input_ids', 'attention_mask']) {
      if (!session.inputNames.includes(name)) throw new BundleError(`model has no input "${name}" (inputs: ${session.inputNames.join(', ')})`, path);
    }
    for (const name of expectedOutputs) {
      if (!session.outputNames.includes(name)) throw new BundleError(`model has no output "${name}" (outputs: ${session.outputNames.join(', ')})`, path);
    }
    return new ModelSession(session, path, session.outputNames);
  }

  /** Runs a batch, right-padded with `padId` to its longest sequence (at least `padTo` tokens). */
  async run(sequences: readonly (readonly number[])[], padId: number, padTo = 1): Promise<Map<string, FloatTensor>> {
    const batch = sequences.length;
    const length = Math.max(padTo, ...sequences.map((s) => s.length));
    const ids = new BigInt64Array(batch * length).fill(BigInt(padId));
    const mask = new BigInt64Array(batch * length);
    sequences.forEach((sequence, b) => {
      for (let i = 0; i < sequence.length; i++) {
        ids[b * length + i] = BigInt(sequence[i] as number);
        mask[b * length + i] = 1n;
      }
    });
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', ids, [batch, length]),
      attention_mask: new ort.Tensor('int64', mask, [batch, length]),
    };
    const results = await this.session.run(feeds);
    const out = new Map<string, FloatTensor>();
    for (const name of this.outputNames) {
      const tensor = results[name];
      if (tensor === undefined) continue;
      if (tensor.type !== 'float32') throw new BundleError(`output "${name}" is ${tensor.type}, expected float32`, this.path);
      out.set(name, { data: tensor.data as Float32Array, dims: tensor.dims });
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
