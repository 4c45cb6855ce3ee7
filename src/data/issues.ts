/**
 * Non-fatal problems found while reading a dataset (spans outside the text, entity strings that could not be
 * located, offsets that had to be realigned). They are counted, never silently dropped, and a few examples of
 * each kind are kept for the report.
 */

/** The kinds of non-fatal dataset problems. */
export type IssueKind =
  | 'span-outside-text'
  | 'span-text-mismatch'
  | 'span-realigned'
  | 'span-unresolved'
  | 'entity-not-found'
  | 'triplet-dropped'
  | 'duplicate-span';

/** One non-fatal problem, with where it happened. */
export interface DatasetIssue {
  readonly kind: IssueKind;
  readonly file: string;
  /** 1-based line (JSONL) or 1-based record number (JSON arrays). */
  readonly line: number;
  readonly docId: string;
  readonly message: string;
}

/** JSON form of an {@link IssueLog}. */
export interface IssueSummary {
  readonly counts: Partial<Record<IssueKind, number>>;
  readonly examples: readonly DatasetIssue[];
}

/** Collects dataset issues: exact counts per kind plus the first `examplesPerKind` examples of each kind. */
export class IssueLog {
  private readonly countsByKind = new Map<IssueKind, number>();
  private readonly kept: DatasetIssue[] = [];

  constructor(readonly examplesPerKind = 5) {
    if (!Number.isInteger(examplesPerKind) || examplesPerKind < 0) {
      throw new RangeError(`examplesPerKind must be a non-negative integer, got ${examplesPerKind}`);
    }
  }

  /** Records one issue. */
  add(issue: DatasetIssue): void {
    const n = this.countsByKind.get(issue.kind) ?? 0;
    this.countsByKind.set(issue.kind, n + 1);
    if (n < this.examplesPerKind) this.kept.push(issue);
  }

  /** How many issues of `kind` were recorded. */
  count(kind: IssueKind): number {
    return this.countsByKind.get(kind) ?? 0;
  }

  /** Total number of issues of all kinds. */
  get total(): number {
    let t = 0;
    for (const n of this.countsByKind.values()) t += n;
    return t;
  }

  /** JSON-serialisable summary. */
  toJSON(): IssueSummary {
    return { counts: Object.fromEntries(this.countsByKind) as Partial<Record<IssueKind, number>>, examples: [...this.kept] };
  }
}
