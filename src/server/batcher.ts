/**
 * Micro-batching: requests from many clients wait a few milliseconds in one queue; whenever an executor
 * slot is free, the oldest request and the queued requests with the same options (up to a batch size in
 * texts) are merged into one `annotate` call, and its results are split back per request.
 */
import type { AnnotateInput, AnnotateOptions, GivenMention, RelikResult } from '../types.js';
import type { BatchExecutor } from './pool.js';

/** When to send a batch and how many requests may wait. */
export interface BatcherLimits {
  /** Most texts in one merged batch (a single request with more texts still runs, alone). */
  readonly maxBatchTexts: number;
  /** How long the oldest queued request may wait for others before its batch is sent (ms). */
  readonly maxWaitMs: number;
  /** Most requests waiting in the queue (not counting running ones); beyond it `submit` throws `QueueFullError`. */
  readonly maxQueue: number;
}

/** The queue is at its limit: the request was not accepted. */
export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
}

/** A request accepted by the batcher. */
export interface Submission {
  readonly results: Promise<RelikResult[]>;
  /** Drops the request if it is still queued (returns true); a running batch cannot be stopped (false). */
  cancel(): boolean;
}

interface Pending {
  readonly inputs: readonly AnnotateInput[];
  readonly options: AnnotateOptions;
  readonly key: string;
  readonly enqueuedAt: number;
  /** Run alone: set after its merged batch failed, so one bad request cannot sink the others. */
  solo: boolean;
  readonly resolve: (results: RelikResult[]) => void;
  readonly reject: (error: unknown) => void;
}

/** Counters for /ready and the benchmark. */
export interface BatcherStats {
  readonly queued: number;
  readonly running: number;
  readonly batches: number;
  readonly requests: number;
  readonly texts: number;
}

/** Requests can share a batch when their options are equal, apart from per-text `mentions`. */
export function batchKey(options: AnnotateOptions): string {
  const { mentions, ...rest } = options;
  const sorted = Object.fromEntries(Object.entries(rest).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return `${mentions === undefined ? '-' : 'm'}${JSON.stringify(sorted)}`;
}

/** Merges requests of one key into one input list and one options object. */
export function mergeRequests(requests: readonly { inputs: readonly AnnotateInput[]; options: AnnotateOptions }[]): { inputs: AnnotateInput[]; options: AnnotateOptions } {
  const first = requests[0];
  if (first === undefined) throw new RangeError('mergeRequests needs at least one request');
  const inputs = requests.flatMap((r) => r.inputs);
  if (first.options.mentions === undefined) return { inputs, options: first.options };
  const mentions: (readonly GivenMention[])[] = requests.flatMap((r) => r.options.mentions ?? []);
  return { inputs, options: { ...first.options, mentions } };
}

/** The queue and dispatcher; it never blocks: model work happens in the executor. */
export class MicroBatcher {
  private readonly queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = 0;
  private batches = 0;
  private requests = 0;
  private texts = 0;

  constructor(
    private readonly executor: BatchExecutor,
    private readonly limits: BatcherLimits,
    private readonly now: () => number = () => performance.now(),
  ) {
    executor.onIdle = () => this.pump();
  }

  get stats(): BatcherStats {
    return { queued: this.queue.length, running: this.running, batches: this.batches, requests: this.requests, texts: this.texts };
  }

  /** Queues one request (already validated). Throws `QueueFullError` when the queue is full. */
  submit(inputs: readonly AnnotateInput[], options: AnnotateOptions): Submission {
    if (this.queue.length >= this.limits.maxQueue) {
      throw new QueueFullError(`server is overloaded: ${this.queue.length} requests are waiting (limit ${this.limits.maxQueue}); retry later`);
    }
    let pending: Pending | undefined;
    const results = new Promise<RelikResult[]>((resolve, reject) => {
      pending = { inputs, options, key: batchKey(options), enqueuedAt: this.now(), solo: false, resolve, reject };
    });
    this.queue.push(pending as Pending);
    this.pump();
    return {
      results,
      cancel: () => {
        const at = this.queue.indexOf(pending as Pending);
        if (at < 0) return false;
        this.queue.splice(at, 1);
        return true;
      },
    };
  }

  /** Resolves when nothing is queued or running. */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.running > 0) {
      this.pump();
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  private pump(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.queue.length > 0 && this.executor.idle > 0) {
      const head = this.queue[0] as Pending;
      const group = this.sameKey(head);
      const full = group.texts >= this.limits.maxBatchTexts || head.solo;
      const waited = this.now() - head.enqueuedAt;
      if (!full && waited < this.limits.maxWaitMs) {
        this.timer = setTimeout(() => this.pump(), Math.max(0, Math.ceil(this.limits.maxWaitMs - waited)));
        return;
      }
      for (const p of group.members) this.queue.splice(this.queue.indexOf(p), 1);
      this.dispatch(group.members);
    }
  }

  /** The head and the next queued requests with its key that fit in one batch. */
  private sameKey(head: Pending): { members: Pending[]; texts: number } {
    const members = [head];
    let texts = head.inputs.length;
    if (head.solo) return { members, texts };
    for (const p of this.queue) {
      if (p === head || p.solo || p.key !== head.key) continue;
      if (texts + p.inputs.length > this.limits.maxBatchTexts) continue;
      members.push(p);
      texts += p.inputs.length;
      if (texts >= this.limits.maxBatchTexts) break;
    }
    return { members, texts };
  }

  private dispatch(members: Pending[]): void {
    const { inputs, options } = mergeRequests(members);
    this.running += 1;
    this.batches += 1;
    this.requests += members.length;
    this.texts += inputs.length;
    this.executor.run(inputs, options).then(
      (results) => {
        let at = 0;
        for (const p of members) {
          p.resolve(results.slice(at, at + p.inputs.length));
          at += p.inputs.length;
        }
      },
      (error: unknown) => {
        if (members.length === 1) (members[0] as Pending).reject(error);
        else {
          // Retry each request alone, at the front of the queue, keeping their order.
          for (const p of members) p.solo = true;
          this.queue.unshift(...members);
        }
      },
    ).finally(() => {
      this.running -= 1;
      this.pump();
    });
  }
}
