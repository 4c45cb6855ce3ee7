import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseManifest } from '../bundle/manifest.js';
import { BundleError } from '../errors.js';
import { buildIndex, readKnowledgeBase } from '../index/build.js';
import { Retriever } from '../pipeline/retriever.js';
import { UsageError, parseIntegerFlag, write, type CliIO } from './io.js';
import { bundleFrom } from './bundle-path.js';

export const INDEX_HELP = `Usage: relik index build KB.jsonl --out NEW_BUNDLE [--bundle DIR] [--kind entities|relations] [--dtype float16|float32] [--max-tokens N] [--hnsw]

Embeds your own knowledge base with the bundle's retriever and writes a new bundle (a copy of --bundle whose
entity or relation index is yours), so the model links to your entries without retraining.
--hnsw also writes an approximate-search graph (usearch HNSW): use it for KBs of 100K+ entries.
KB.jsonl: one {"id": string, "title": string, "description"?: string, "aliases"?: (string | {"text", "count"})[]}
per line; ids must be unique. Aliases are other names of the entry, used by name lookup (entities.aliasTopK).`;

function progressBar(io: CliIO): (done: number, total: number) => void {
  let last = 0;
  return (done, total) => {
    const now = Date.now();
    if (done < total && now - last < 200) return;
    last = now;
    const width = 30;
    const filled = Math.round((done / total) * width);
    const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} passages`;
    io.stderr.write(io.stderr.isTTY ? `\r${line}${done === total ? '\n' : ''}` : done === total || done % 1024 === 0 ? `${line}\n` : '');
  };
}

export async function runIndex(argv: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '-h' || sub === '--help') {
    await write(io.stdout, `${INDEX_HELP}\n`);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'build') throw new UsageError(`unknown index command "${sub}"; known: build`);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { bundle: { type: 'string' }, out: { type: 'string' }, kind: { type: 'string' }, dtype: { type: 'string' }, 'max-tokens': { type: 'string' }, hnsw: { type: 'boolean' } },
  });
  const kbPath = positionals[0];
  if (kbPath === undefined || values.out === undefined) throw new UsageError('relik index build needs KB.jsonl and --out NEW_BUNDLE');
  const kind = values.kind ?? 'entities';
  if (kind !== 'entities' && kind !== 'relations') throw new UsageError(`--kind must be entities or relations, got ${JSON.stringify(kind)}`);
  const dtype = values.dtype ?? 'float16';
  if (dtype !== 'float16' && dtype !== 'float32') throw new UsageError(`--dtype must be float16 or float32, got ${JSON.stringify(dtype)}`);

  const source = resolve(bundleFrom(values.bundle));
  const out = resolve(values.out);
  if (out === source) throw new UsageError('--out must be a new folder, not the source bundle');
  const manifestPath = join(source, 'relik.json');
  const manifest = parseManifest(await readFile(manifestPath, 'utf8').catch(() => { throw new BundleError('relik.json is missing', manifestPath); }), manifestPath);
  const settings = kind === 'entities' ? manifest.entities : manifest.relations;
  if (settings === null) throw new UsageError(`this ${manifest.task} bundle has no ${kind}`);
  const retrieverDir = settings.retriever ?? manifest.entities?.retriever ?? null;
  if (retrieverDir === null) throw new UsageError(`this bundle has no retriever to embed ${kind} with`);

  const passages = await readKnowledgeBase(kbPath);
  const retriever = await Retriever.load(join(source, retrieverDir), manifest.retriever.maxQueryTokens, {});
  try {
    await rm(out, { recursive: true, force: true });
    await cp(source, out, { recursive: true, filter: (path) => !path.startsWith(join(source, settings.index)) });
    const started = Date.now();
    const maxTokens = parseIntegerFlag('max-tokens', values['max-tokens'], 4);
    const index = await buildIndex(retriever, passages, join(out, settings.index), {
      dtype,
      hnsw: values.hnsw === true,
      ...(maxTokens === undefined ? {} : { maxPassageTokens: maxTokens }),
      onProgress: progressBar(io),
    });
    // The copied manifest keeps every field; only the retriever now must be set for this index.
    const raw = JSON.parse(await readFile(join(out, 'relik.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    (raw[kind] as Record<string, unknown>).retriever = retrieverDir;
    await writeFile(join(out, 'relik.json'), `${JSON.stringify(raw, null, 2)}\n`);
    const seconds = (Date.now() - started) / 1000;
    await write(io.stderr, `indexed ${index.count} ${kind} (dim ${index.dim}, ${dtype}) in ${seconds.toFixed(1)} s -> ${out}\n`);
    return 0;
  } finally {
    await retriever.release();
  }
}
