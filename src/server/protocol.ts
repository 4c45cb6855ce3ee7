/**
 * Messages between the server's main thread and its model workers (worker_threads, structured clone).
 */
import type { AnnotateInput, AnnotateOptions, RelikResult, Task } from '../types.js';

/** What the main thread passes to a worker when it starts. */
export interface WorkerData {
  /** Bundle folder. */
  readonly bundle: string;
  /** ONNX threads per session inside this worker. */
  readonly threads: number;
}

/** An error as it crosses the thread boundary: the class name and its message. */
export interface WireError {
  readonly name: string;
  readonly message: string;
}

/** Main thread -> worker. */
export type ToWorker =
  | { readonly type: 'annotate'; readonly id: number; readonly inputs: readonly AnnotateInput[]; readonly options: AnnotateOptions }
  | { readonly type: 'close' };

/** Facts about the loaded bundle that a worker reports once it is ready. */
export interface BundleInfo {
  readonly name: string;
  readonly task: Task;
  readonly entityCount: number;
}

/** Worker -> main thread. */
export type FromWorker =
  | { readonly type: 'ready'; readonly info: BundleInfo }
  | { readonly type: 'load-error'; readonly error: WireError }
  | { readonly type: 'result'; readonly id: number; readonly results: RelikResult[] }
  | { readonly type: 'error'; readonly id: number; readonly error: WireError }
  | { readonly type: 'closed' };

/** Turns anything thrown into a {name, message} pair that survives postMessage. */
export function toWireError(error: unknown): WireError {
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}
