/**
 * Errors of the dataset layer. A `DatasetError` always names the file, and the line when one is known, so a
 * user can open the file at the offending place.
 */

/** A dataset or KB file is missing, malformed, or inconsistent. */
export class DatasetError extends Error {
  override readonly name = 'DatasetError';
  constructor(
    /** What is wrong, without the location. */
    readonly reason: string,
    /** The file (as given by the caller). */
    readonly file: string,
    /** 1-based line number, or 0 when the error concerns the whole file. */
    readonly line = 0,
  ) {
    super(line > 0 ? `${file}:${line}: ${reason}` : `${file}: ${reason}`);
  }
}

/** A dataset name given to the registry is not known. Lists the names that are. */
export class UnknownDatasetError extends Error {
  override readonly name = 'UnknownDatasetError';
  constructor(
    readonly dataset: string,
    readonly known: readonly string[],
  ) {
    super(
      `unknown dataset "${dataset}"; dataset must be one of: ${known.join(', ')}, or a path to a .jsonl file in ` +
        'the ReLiK-TS evaluation schema (docs/DATASETS.md)',
    );
  }
}
