/** MicroBatcher with a fake executor: grouping, limits, cancel, failure isolation (no model, no threads). */
import { describe, expect, it } from 'vitest';
import { MicroBatcher, QueueFullError, batchKey, mergeRequests } from '../../src/server/batcher.js';
import type { BatchExecutor } from '../../src/server/pool.js';
import type { AnnotateInput, AnnotateOptions, RelikResult } from '../../src/types.js';

/** Answers each text with a result whose `text` echoes it; records every batch; can be made to fail. */
class FakeExecutor implements BatchExecutor {
  onIdle: (() => void) | undefined;
  readonly batches: { inputs: readonly AnnotateInput[]; options: AnnotateOptions }[] = [];
  private busy = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(
    private readonly slots: number,
    private readonly failWhen: (inputs: readonly AnnotateInput[]) => boolean = () => false,
    private readonly manual = false,
  ) {}
  get idle(): number {
    return this.slots - this.busy;
  }
  /** With `manual`, batches finish only when released, one per call, in order. */
  release(): void {
    this.waiting.shift()?.();
  }
  async run(inputs: readonly AnnotateInput[], options: AnnotateOptions): Promise<RelikResult[]> {
    this.busy += 1;
    this.batches.push({ inputs, options });
    try {
      if (this.manual) await new Promise<void>((r) => this.waiting.push(r));
      else await new Promise((r) => setTimeout(r, 1));
      if (this.failWhen(inputs)) throw new RangeError('bad batch');
      return inputs.map((input) => ({ text: String(input), spans: [], triplets: [], truncation: { patchedWindows: 0, droppedCandidates: 0, truncatedCandidateTitles: 0, splitWindows: 0, droppedMentions: 0 } }));
    } finally {
      this.busy -= 1;
    }
  }
}

const texts = (results: RelikResult[]): string[] => results.map((r) => r.text);

describe('batchKey and mergeRequests', () => {
  it('ignores option order and per-text mentions, but not whether mentions are given', () => {
    expect(batchKey({ topK: 3, keepNme: true })).toBe(batchKey({ keepNme: true, topK: 3 }));
    expect(batchKey({ topK: 3 })).not.toBe(batchKey({ topK: 4 }));
    expect(batchKey({ mentions: [[{ start: 0, end: 1 }]] })).toBe(batchKey({ mentions: [[]] }));
    expect(batchKey({ mentions: [[]] })).not.toBe(batchKey({}));
  });

  it('concatenates inputs and mentions in request order', () => {
    const merged = mergeRequests([
      { inputs: ['a', 'b'], options: { mentions: [[{ start: 0, end: 1 }], []] } },
      { inputs: ['c'], options: { mentions: [[{ start: 1, end: 2 }]] } },
    ]);
    expect(merged.inputs).toEqual(['a', 'b', 'c']);
    expect(merged.options.mentions).toEqual([[{ start: 0, end: 1 }], [], [{ start: 1, end: 2 }]]);
  });
});

describe('MicroBatcher', () => {
  it('merges concurrent requests with equal options into one batch and splits the results back', async () => {
    const executor = new FakeExecutor(1);
    const batcher = new MicroBatcher(executor, { maxBatchTexts: 16, maxWaitMs: 20, maxQueue: 100 });
    const a = batcher.submit(['a1', 'a2'], {});
    const b = batcher.submit(['b1'], {});
    const c = batcher.submit(['c1'], { topK: 2 });
    expect(texts(await a.results)).toEqual(['a1', 'a2']);
    expect(texts(await b.results)).toEqual(['b1']);
    expect(texts(await c.results)).toEqual(['c1']);
    expect(executor.batches.map((x) => x.inputs)).toEqual([['a1', 'a2', 'b1'], ['c1']]);
  });

  it('sends a batch as soon as it is full, without waiting', async () => {
    const executor = new FakeExecutor(1);
    const batcher = new MicroBatcher(executor, { maxBatchTexts: 2, maxWaitMs: 60_000, maxQueue: 100 });
    const started = performance.now();
    const r = batcher.submit(['x', 'y'], {});
    expect(texts(await r.results)).toEqual(['x', 'y']);
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('never puts more than maxBatchTexts in a merged batch', async () => {
    const executor = new FakeExecutor(1);
    const batcher = new MicroBatcher(executor, { maxBatchTexts: 3, maxWaitMs: 5, maxQueue: 100 });
    const all = Array.from({ length: 10 }, (_, i) => batcher.submit([`t${i}`], {}));
    const results = await Promise.all(all.map((s) => s.results));
    expect(results.map((r) => r[0]?.text)).toEqual(Array.from({ length: 10 }, (_, i) => `t${i}`));
    expect(Math.max(...executor.batches.map((b) => b.inputs.length))).toBeLessThanOrEqual(3);
    expect(executor.batches.length).toBeGreaterThanOrEqual(4);
  });

  it('refuses requests beyond the queue limit with QueueFullError', async () => {
    const executor = new FakeExecutor(1, () => false, true);
    const batcher = new MicroBatcher(executor, { maxBatchTexts: 1, maxWaitMs: 0, maxQueue: 2 });
    const running = batcher.submit(['running'], {});
    const queued = [batcher.submit(['q1'], {}), batcher.submit(['q2'], {})];
    expect(batcher.stats).toMatchObject({ queued: 2, running: 1 });
    expect(() => batcher.submit(['too many'], {})).toThrow(QueueFullError);
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 5));
      executor.release();
    }
    expect(texts(await running.results)).toEqual(['running']);
    expect((await Promise.all(queued.map((q) => q.results))).map(texts)).toEqual([['q1'], ['q2']]);
  });

  it('drops a cancelled queued request before it reaches the executor', async () => {
    const executor = new FakeExecutor(1, () => false, true);
    const batcher = new MicroBatcher(executor, { maxBatchTexts: 1, maxWaitMs: 0, maxQueue: 10 });
    const first = batcher.submit(['first'], {});
    const second = batcher.submit(['second'], {});
    expect(second.cancel()).toBe(true);
    expect(first.cancel()).toBe(false); // already running
    executor.release();
    await first.results;
    await batcher.drain();
    expect(executor.batches.map((b) => b.inputs)).toEqual([['first']]);
  });

  it('retries the requests of a failed batch one by one, so only the bad one fails', async () => {
    const executor = new FakeExecutor(1, (inputs) => inputs.includes('bad'));
    const batcher = new MicroBatcher(executor, { maxBatchTexts: 8, maxWaitMs: 20, maxQueue: 10 });
    const good = batcher.submit(['good'], {});
    const bad = batcher.submit(['bad'], {});
    const other = batcher.submit(['other'], {});
    await expect(bad.results).rejects.toThrow('bad batch');
    expect(texts(await good.results)).toEqual(['good']);
    expect(texts(await other.results)).toEqual(['other']);
    expect(executor.batches[0]?.inputs).toEqual(['good', 'bad', 'other']);
    expect(executor.batches.slice(1).map((b) => b.inputs)).toEqual([['good'], ['bad'], ['other']]);
  });
});
