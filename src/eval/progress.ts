/**
 * Progress display for long evaluations: a single rewritten line on a terminal, periodic lines otherwise.
 */
import type { EvalProgress } from './evaluate.js';

/** One progress line, e.g. "120/288 docs (41.7%)  3.10 docs/s  ETA 54 s". */
export function formatProgress(p: EvalProgress): string {
  const rate = p.elapsedSeconds > 0 ? p.done / p.elapsedSeconds : 0;
  const parts = [p.total !== null ? `${p.done}/${p.total} docs (${((100 * p.done) / Math.max(p.total, 1)).toFixed(1)}%)` : `${p.done} docs`];
  parts.push(`${rate.toFixed(2)} docs/s`);
  if (p.total !== null && rate > 0) parts.push(`ETA ${Math.ceil((p.total - p.done) / rate)} s`);
  return parts.join('  ');
}

/** A progress sink plus a `finish` that ends the line on a terminal. */
export interface ProgressReporter {
  readonly update: (p: EvalProgress) => void;
  readonly finish: () => void;
}

/**
 * Progress on `stream`: with `tty` a `\r`-rewritten line; otherwise a line whenever another 10% of the total
 * (or `everySeconds`) has passed, and at the end.
 */
export function progressReporter(stream: NodeJS.WritableStream, tty: boolean, everySeconds = 30): ProgressReporter {
  let lastDecile = 0;
  let lastTime = 0;
  let wroteTty = false;
  return {
    update(p) {
      if (tty) {
        stream.write(`\r${formatProgress(p)}\x1b[K`);
        wroteTty = true;
        return;
      }
      const decile = p.total ? Math.floor((10 * p.done) / p.total) : 0;
      const due = decile > lastDecile || p.elapsedSeconds - lastTime >= everySeconds || (p.total !== null && p.done === p.total);
      if (!due) return;
      lastDecile = decile;
      lastTime = p.elapsedSeconds;
      stream.write(`${formatProgress(p)}\n`);
    },
    finish() {
      if (wroteTty) stream.write('\n');
      wroteTty = false;
    },
  };
}
