/** A progress line for long corpus runs: a bar on a terminal, a periodic plain line otherwise. */

/** Where a run stands. */
export interface Progress {
  /** Documents done, including those skipped on resume. */
  readonly done: number;
  /** Documents in the input. */
  readonly total: number;
  /** Documents annotated by this run. */
  readonly annotated: number;
  /** Milliseconds since this run started. */
  readonly elapsedMs: number;
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Documents per second of this run (0 before the first one). */
export function rate(p: Progress): number {
  return p.elapsedMs > 0 ? (p.annotated * 1000) / p.elapsedMs : 0;
}

/** One line: `[#####-----]  50% 500/1000 docs  12.3 docs/s  ETA 41s` (the bar is `width` characters). */
export function formatProgress(p: Progress, width = 30): string {
  const fraction = p.total > 0 ? Math.min(1, p.done / p.total) : 1;
  const filled = Math.round(fraction * width);
  const speed = rate(p);
  const eta = speed > 0 ? (p.total - p.done) / speed : Number.POSITIVE_INFINITY;
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${percent} ${p.done}/${p.total} docs  ${speed.toFixed(1)} docs/s  ETA ${p.done >= p.total ? '0s' : duration(eta)}`;
}

/** Writes progress to a stream: redrawn in place (at most every 100 ms) on a TTY, a new line every 10 s elsewhere. */
export class ProgressBar {
  private last = Number.NEGATIVE_INFINITY;
  private drawn = false;

  constructor(
    private readonly stream: NodeJS.WritableStream & { isTTY?: boolean },
    private readonly now: () => number = () => Date.now(),
  ) {}

  update(p: Progress): void {
    const tty = this.stream.isTTY === true;
    const t = this.now();
    if (t - this.last < (tty ? 100 : 10_000) && p.done < p.total) return;
    this.last = t;
    this.drawn = true;
    this.stream.write(tty ? `\r${formatProgress(p)}\x1b[K` : `${formatProgress(p)}\n`);
  }

  /** Ends the bar's line (on a TTY) so that later output starts on a fresh line. */
  finish(): void {
    if (this.drawn && this.stream.isTTY === true) this.stream.write('\n');
  }
}
