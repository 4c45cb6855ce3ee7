/**
 * Error classes of the library. Bad arguments use the built-in TypeError / RangeError with a message that
 * names the parameter and the allowed values; these classes cover files and models.
 */

/** A model bundle is missing, unreadable, corrupt, or of an unsupported version. Carries the offending path. */
export class BundleError extends Error {
  override readonly name = 'BundleError';
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(`${message} (${path})`);
  }
}

/** A knowledge base or index file is inconsistent (duplicate ids, wrong sizes, bad lines). */
export class IndexError extends Error {
  override readonly name = 'IndexError';
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(`${message} (${path})`);
  }
}
