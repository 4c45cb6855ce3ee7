/** Locates the shared benchmark folder for tests; warns visibly when it is absent (tests then skip). */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const candidates = [process.env.RELIK_DATA, resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/data'), '/work/shared/data'].filter(
  (p): p is string => typeof p === 'string' && p !== '',
);

/** The shared data root, or undefined when none of the candidate folders has MANIFEST.md. */
export const SHARED_ROOT: string | undefined = candidates.find((p) => existsSync(join(p, 'MANIFEST.md')));

/** Warns (once per test file) that shared-data tests are skipped. */
export function warnIfNoSharedData(what: string): void {
  if (!SHARED_ROOT) console.warn(`[relik-ts] shared datasets not found (looked in ${candidates.join(', ')}); ${what} SKIPPED`);
}
