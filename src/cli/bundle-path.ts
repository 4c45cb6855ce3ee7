import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The bundle shipped with the package (models/default), found from this file in src/ or dist/src/. */
export function defaultBundlePath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'models', 'default');
    if (existsSync(join(dir, 'package.json'))) return candidate;
    dir = dirname(dir);
  }
  return resolve('models/default');
}

/** --bundle, else $RELIK_BUNDLE, else the default bundle. */
export function bundleFrom(flag: string | undefined): string {
  return flag ?? process.env.RELIK_BUNDLE ?? defaultBundlePath();
}
