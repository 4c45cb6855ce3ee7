import { BundleError } from '../errors.js';
import type { WindowStrategy } from '../pipeline/windows.js';
import type { Task } from '../types.js';
import { parseJsonObject } from '../util/json.js';

/** Bundle format versions this runtime reads (2: reader/heads.json may carry a relation MLP; 3: a pair-context term; docs/BUNDLE.md). */
export const SUPPORTED_FORMAT_VERSIONS: readonly number[] = [1, 2, 3];

export interface CandidateSource {
  /** Index folder, relative to the bundle. */
  readonly index: string;
  /** Retriever folder, or null when every passage of the index is a candidate. */
  readonly retriever: string | null;
  readonly topK: number;
  /** Candidates per window found by name lookup (titles, aliases), replacing the lowest retrieved ones; 0 = off. */
  readonly aliasTopK: number;
  /** Weight of log p(entity | mention text) from titles and aliases added to link logits; 0 = off. */
  readonly aliasPriorWeight: number;
  /** Links whose probability is below this are NME (entities; 0 = every argmax link stands). */
  readonly linkThreshold: number;
  readonly useDocTopic: boolean;
}

export interface ReaderSettings {
  readonly dir: string;
  readonly maxLength: number;
  readonly maxCandidateTokens: number;
  readonly entityMarkers: number;
  readonly relationMarkers: number;
  readonly endsPerStart: 'one' | 'all';
  readonly relationThreshold: number;
  /** Relations kept per ordered mention pair, best first; 0 = all above the threshold. */
  readonly relationsPerPair: number;
}

/** The parsed and checked `relik.json`. */
export interface BundleManifest {
  readonly formatVersion: number;
  readonly name: string;
  readonly task: Task;
  readonly windows: { readonly size: number; readonly stride: number; readonly strategy: WindowStrategy };
  readonly entities: CandidateSource | null;
  readonly relations: CandidateSource | null;
  readonly retriever: { readonly maxQueryTokens: number };
  readonly reader: ReaderSettings;
  /** Everything else the exporter wrote (producer, training config, metrics), passed through. */
  readonly extra: Readonly<Record<string, unknown>>;
}

type Json = Record<string, unknown>;

class Fields {
  constructor(
    private readonly object: Json,
    private readonly where: string,
    private readonly path: string,
  ) {}

  private fail(field: string, expected: string): never {
    throw new BundleError(`relik.json: ${this.where}${field} must be ${expected}, got ${JSON.stringify(this.object[field])}`, this.path);
  }

  integer(field: string, min: number, fallback?: number): number {
    const value = this.object[field] ?? fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) this.fail(field, `an integer >= ${min}`);
    return value;
  }

  probability(field: string, fallback: number): number {
    const value = this.object[field] ?? fallback;
    if (typeof value !== 'number' || !(value >= 0 && value <= 1)) this.fail(field, 'a number in [0, 1]');
    return value;
  }

  /** A threshold in [0, 1), as the annotate options take it (1 would turn every decision off). */
  threshold(field: string, fallback: number): number {
    const value = this.object[field] ?? fallback;
    if (typeof value !== 'number' || !(value >= 0 && value < 1)) this.fail(field, 'a number in [0, 1)');
    return value;
  }

  nonNegative(field: string, fallback: number): number {
    const value = this.object[field] ?? fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) this.fail(field, 'a number >= 0');
    return value;
  }

  string(field: string, fallback?: string): string {
    const value = this.object[field] ?? fallback;
    if (typeof value !== 'string' || value.length === 0) this.fail(field, 'a non-empty string');
    return value;
  }

  oneOf<T extends string>(field: string, allowed: readonly T[], fallback?: T): T {
    const value = this.object[field] ?? fallback;
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) this.fail(field, `one of ${allowed.join(', ')}`);
    return value as T;
  }

  boolean(field: string, fallback: boolean): boolean {
    const value = this.object[field] ?? fallback;
    if (typeof value !== 'boolean') this.fail(field, 'true or false');
    return value;
  }

  nested(field: string, required: boolean): Fields | null {
    const value = this.object[field];
    if (value === undefined || value === null) {
      if (required) this.fail(field, 'an object');
      return null;
    }
    if (typeof value !== 'object' || Array.isArray(value)) this.fail(field, 'an object');
    return new Fields(value as Json, `${this.where}${field}.`, this.path);
  }

  nullableString(field: string): string | null {
    const value = this.object[field];
    if (value === null || value === undefined) return null;
    if (typeof value !== 'string' || value.length === 0) this.fail(field, 'a non-empty string or null');
    return value;
  }
}

/** Parses and checks a `relik.json` text; `path` is only used in error messages. */
export function parseManifest(text: string, path: string): BundleManifest {
  const json = parseJsonObject(text, 'relik.json', (message) => new BundleError(message, path));
  if (json.format !== 'relik-bundle') throw new BundleError(`relik.json: format must be "relik-bundle", got ${JSON.stringify(json.format)}`, path);
  const root = new Fields(json, '', path);
  const formatVersion = root.integer('formatVersion', 1);
  if (!SUPPORTED_FORMAT_VERSIONS.includes(formatVersion)) {
    throw new BundleError(`bundle formatVersion ${formatVersion} is not supported; this runtime reads versions ${SUPPORTED_FORMAT_VERSIONS.join(', ')}`, path);
  }
  const task = root.oneOf<Task>('task', ['el', 're', 'cie']);
  const windows = root.nested('windows', true) as Fields;
  const size = windows.integer('size', 1);
  const stride = windows.integer('stride', 1);
  if (stride > size) throw new BundleError(`relik.json: windows.stride (${stride}) must not exceed windows.size (${size})`, path);

  const source = (field: string, required: boolean): CandidateSource | null => {
    const f = root.nested(field, required);
    if (f === null) return null;
    return { index: f.string('index'), retriever: f.nullableString('retriever'), topK: f.integer('topK', 1), aliasTopK: f.integer('aliasTopK', 0, 0), aliasPriorWeight: f.nonNegative('aliasPriorWeight', 0), linkThreshold: f.threshold('linkThreshold', 0), useDocTopic: f.boolean('useDocTopic', false) };
  };
  const entities = source('entities', task !== 're');
  const relations = source('relations', task !== 'el');
  const retriever = root.nested('retriever', false);
  const reader = root.nested('reader', true) as Fields;
  const { format: _format, formatVersion: _v, name: _n, task: _t, windows: _w, entities: _e, relations: _r, retriever: _rt, reader: _rd, ...extra } = json;
  return {
    formatVersion,
    name: root.string('name', 'unnamed'),
    task,
    windows: { size, stride, strategy: windows.oneOf<WindowStrategy>('strategy', ['words', 'sentences'], 'words') },
    entities,
    relations,
    retriever: { maxQueryTokens: retriever?.integer('maxQueryTokens', 8, 256) ?? 256 },
    reader: {
      dir: reader.string('dir', 'reader'),
      maxLength: reader.integer('maxLength', 16),
      maxCandidateTokens: reader.integer('maxCandidateTokens', 1, 22),
      entityMarkers: reader.integer('entityMarkers', task === 're' ? 0 : 2, 0),
      relationMarkers: reader.integer('relationMarkers', task === 'el' ? 0 : 1, 0),
      endsPerStart: reader.oneOf('endsPerStart', ['one', 'all'] as const, task === 'el' ? 'one' : 'all'),
      relationThreshold: reader.probability('relationThreshold', 0.5),
      relationsPerPair: reader.integer('relationsPerPair', 0, 0),
    },
    extra,
  };
}
