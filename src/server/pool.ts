/**
 * A fixed set of model workers (worker_threads), each with its own `Relik` instance. Jobs go to an idle
 * worker; a worker that dies is replaced and its job fails with a `WorkerCrashError`.
 */
import { Worker } from 'node:worker_threads';
import type { AnnotateInput, AnnotateOptions, RelikResult } from '../types.js';
import type { BundleInfo, FromWorker, ToWorker, WireError, WorkerData } from './protocol.js';

/** An error thrown inside a worker, re-created on the main thread with the same `name` and message. */
export class RemoteError extends Error {
  constructor(error: WireError) {
    super(error.message);
    this.name = error.name;
  }
}

/** A worker died (uncaught error, out of memory) while running a job. */
export class WorkerCrashError extends Error {
  override readonly name = 'WorkerCrashError';
}

/** Something that runs one annotate batch at a time per free slot (the pool, or a fake in tests). */
export interface BatchExecutor {
  /** Slots free right now. */
  readonly idle: number;
  /** Runs one batch on a free slot. Call only while `idle > 0`. */
  run(inputs: readonly AnnotateInput[], options: AnnotateOptions): Promise<RelikResult[]>;
  /** Called whenever a slot becomes free without a job settling (e.g. a replaced worker). */
  onIdle: (() => void) | undefined;
}

/** How to start the pool. */
export interface PoolOptions {
  readonly bundle: string;
  /** Number of workers (each loads the bundle once). */
  readonly workers: number;
  /** ONNX threads per session inside each worker. */
  readonly threads: number;
  /** Worker entry; defaults to worker.js beside this file. */
  readonly workerUrl?: URL;
}

interface Job {
  readonly id: number;
  readonly resolve: (results: RelikResult[]) => void;
  readonly reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  job: Job | null;
  ready: boolean;
}

const defaultWorkerUrl = (): URL => new URL('./worker.js', import.meta.url);

/** Worker pool; create with `WorkerPool.start`, which resolves once every worker has loaded the bundle. */
export class WorkerPool implements BatchExecutor {
  onIdle: (() => void) | undefined;
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closing = false;

  private constructor(
    private readonly options: PoolOptions,
    /** Name, task and KB size of the loaded bundle. */
    readonly info: BundleInfo,
  ) {}

  /** Starts `options.workers` workers and waits until all have loaded the bundle (or one failed to). */
  static async start(options: PoolOptions): Promise<WorkerPool> {
    if (!Number.isInteger(options.workers) || options.workers < 1) throw new RangeError(`workers must be an integer >= 1, got ${options.workers}`);
    const started = await Promise.allSettled(Array.from({ length: options.workers }, () => spawn(options)));
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    const ok = started.filter((s): s is PromiseFulfilledResult<{ worker: Worker; info: BundleInfo }> => s.status === 'fulfilled');
    if (failed !== undefined) {
      await Promise.all(ok.map((s) => s.value.worker.terminate()));
      throw failed.reason;
    }
    const first = ok[0] as PromiseFulfilledResult<{ worker: Worker; info: BundleInfo }>;
    const pool = new WorkerPool(options, first.value.info);
    for (const { value } of ok) pool.adopt(value.worker);
    return pool;
  }

  /** Number of workers. */
  get size(): number {
    return this.slots.length;
  }

  get idle(): number {
    return this.closing ? 0 : this.slots.filter((s) => s.ready && s.job === null).length;
  }

  /** Jobs running now. */
  get busy(): number {
    return this.slots.filter((s) => s.job !== null).length;
  }

  run(inputs: readonly AnnotateInput[], options: AnnotateOptions): Promise<RelikResult[]> {
    const slot = this.slots.find((s) => s.ready && s.job === null);
    if (slot === undefined || this.closing) return Promise.reject(new Error('no idle worker: call run() only while idle > 0'));
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      slot.job = { id, resolve, reject };
      const message: ToWorker = { type: 'annotate', id, inputs, options };
      slot.worker.postMessage(message);
    });
  }

  /** Waits for running jobs, then stops every worker (their ONNX sessions are released). */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      this.slots.map(async (slot) => {
        while (slot.job !== null) await new Promise((r) => setTimeout(r, 5));
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => void slot.worker.terminate().then(() => resolve()), 5_000);
          slot.worker.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          slot.worker.postMessage({ type: 'close' } satisfies ToWorker);
        });
      }),
    );
  }

  private adopt(worker: Worker, slot: Slot = { worker, job: null, ready: true }): void {
    slot.worker = worker;
    slot.ready = true;
    if (!this.slots.includes(slot)) this.slots.push(slot);
    worker.on('message', (message: FromWorker) => {
      if (message.type !== 'result' && message.type !== 'error') return;
      const job = slot.job;
      if (job === null || job.id !== message.id) return;
      slot.job = null;
      if (message.type === 'result') job.resolve(message.results);
      else job.reject(new RemoteError(message.error));
    });
    worker.once('exit', (code) => {
      if (slot.worker !== worker) return;
      slot.ready = false;
      const job = slot.job;
      slot.job = null;
      job?.reject(new WorkerCrashError(`model worker exited (code ${code}) while annotating`));
      if (this.closing) return;
      // Replace the dead worker; the batcher is told when the new one is ready.
      spawn(this.options).then(
        ({ worker: fresh }) => {
          if (this.closing) {
            void fresh.terminate();
            return;
          }
          this.adopt(fresh, slot);
          this.onIdle?.();
        },
        () => undefined, // the bundle loaded before, so this is a transient failure: the slot stays down
      );
    });
    // An uncaught error inside the worker ends it; 'exit' follows and handles the job.
    worker.on('error', () => undefined);
  }
}

/** Starts one worker and resolves when it has loaded the bundle. */
function spawn(options: PoolOptions): Promise<{ worker: Worker; info: BundleInfo }> {
  const data: WorkerData = { bundle: options.bundle, threads: options.threads };
  const worker = new Worker(options.workerUrl ?? defaultWorkerUrl(), { workerData: data });
  return new Promise((resolve, reject) => {
    const onExit = (code: number): void => reject(new WorkerCrashError(`model worker exited (code ${code}) while loading the bundle`));
    const onError = (error: Error): void => reject(error);
    worker.once('exit', onExit);
    worker.once('error', onError);
    worker.once('message', (message: FromWorker) => {
      worker.off('exit', onExit);
      worker.off('error', onError);
      if (message.type === 'ready') resolve({ worker, info: message.info });
      else if (message.type === 'load-error') {
        void worker.terminate();
        reject(new RemoteError(message.error));
      } else reject(new Error(`model worker sent ${message.type} before it was ready`));
    });
  });
}
