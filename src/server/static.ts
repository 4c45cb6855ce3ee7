/**
 * The web page's files (web/ at the package root), read once at start and served from memory. Only the
 * plain files directly in web/ are served: no directory walking, no paths from the client.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One servable file. */
export interface StaticAsset {
  readonly body: Buffer;
  readonly contentType: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
};

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The package root (the folder with package.json), found from this file in src/ or dist/src/. */
export function packageRoot(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error(`cannot find the package root above ${from}`);
}

/** The web page's folder: web/ at the package root. */
export function webDir(): string {
  return join(packageRoot(), 'web');
}

/**
 * Reads the files of `dir` with a known type into a map from URL path ("/", "/app.js") to content.
 * A missing folder gives an empty map (the API works without the page).
 */
export function loadAssets(dir: string = webDir()): Map<string, StaticAsset> {
  const assets = new Map<string, StaticAsset>();
  if (!existsSync(dir)) return assets;
  for (const name of readdirSync(dir)) {
    const type = CONTENT_TYPES[extname(name)];
    const path = join(dir, name);
    if (type === undefined || !SAFE_NAME.test(name) || !statSync(path).isFile()) continue;
    const asset = { body: readFileSync(path), contentType: type };
    assets.set(`/${name}`, asset);
    if (name === 'index.html') assets.set('/', asset);
  }
  return assets;
}
