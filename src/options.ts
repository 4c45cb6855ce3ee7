import type { BundleManifest } from './bundle/manifest.js';
import type { AnnotateInput, AnnotateOptions, DocumentInput, GivenCandidate, GivenMention, Task, Word } from './types.js';
import { splitWords, validateWords } from './text/words.js';

/** Longest text accepted by one `annotate` call element (characters); longer texts are windowed, not cut. */
export const MAX_TEXT_LENGTH = 10_000_000;

const KNOWN_OPTIONS = new Set([
  'task', 'topK', 'aliasTopK', 'aliasPriorWeight', 'linkThreshold', 'relationTopK', 'windowSize', 'windowStride', 'windowStrategy', 'relationThreshold', 'relationsPerPair', 'returnCandidates', 'returnWindows',
  'keepNme', 'mentions', 'entityCandidates', 'relationCandidates', 'useDocTopic',
]);

/** Options after defaults from the bundle, checked. */
export interface ResolvedOptions {
  readonly task: Task;
  readonly topK: number;
  readonly aliasTopK: number;
  readonly aliasPriorWeight: number;
  readonly linkThreshold: number;
  readonly relationTopK: number;
  readonly windowSize: number;
  readonly windowStride: number;
  readonly windowStrategy: 'words' | 'sentences';
  readonly relationThreshold: number;
  readonly relationsPerPair: number;
  readonly returnWindows: boolean;
  readonly returnCandidates: boolean;
  readonly keepNme: boolean;
  readonly useDocTopic: boolean;
  readonly mentions: readonly (readonly GivenMention[])[] | undefined;
  readonly entityCandidates: readonly GivenCandidate[] | undefined;
  readonly relationCandidates: readonly GivenCandidate[] | undefined;
}

function positiveInteger(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new RangeError(`options.${name} must be an integer >= 1, got ${String(value)}`);
  return value;
}

function nonNegativeInteger(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new RangeError(`options.${name} must be an integer >= 0, got ${String(value)}`);
  return value;
}

function nonNegativeNumber(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new RangeError(`options.${name} must be a finite number >= 0, got ${String(value)}`);
  return value;
}

/** A probability threshold in [0, 1): 1 would turn every decision off. */
function threshold(name: string, value: unknown, fallback: number): number {
  const resolved = value ?? fallback;
  if (typeof resolved !== 'number' || !(resolved >= 0 && resolved < 1)) throw new RangeError(`options.${name} must be a number in [0, 1), got ${String(value ?? resolved)}`);
  return resolved;
}

function flag(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`options.${name} must be true or false, got ${typeof value}`);
  return value;
}

function candidates(name: string, value: unknown): readonly GivenCandidate[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw new TypeError(`options.${name} must be an array of {id, title}`);
  const ids = new Set<string>();
  value.forEach((c: unknown, i) => {
    const candidate = c as Partial<GivenCandidate> | null;
    if (typeof candidate !== 'object' || candidate === null || typeof candidate.id !== 'string' || typeof candidate.title !== 'string' || candidate.title.trim() === '') {
      throw new TypeError(`options.${name}[${i}] must be {id: string, title: non-empty string}`);
    }
    if (ids.has(candidate.id)) throw new RangeError(`options.${name}[${i}] repeats id ${JSON.stringify(candidate.id)}; ids must be unique`);
    ids.add(candidate.id);
  });
  return value as GivenCandidate[];
}

/** Narrowing only: a cie bundle can run as el or re; el and re bundles run only their own task. */
function resolveTask(bundleTask: Task, requested: unknown): Task {
  if (requested === undefined) return bundleTask;
  const allowed: readonly Task[] = bundleTask === 'cie' ? ['cie', 'el', 're'] : [bundleTask];
  if (typeof requested !== 'string' || !(allowed as readonly string[]).includes(requested)) {
    throw new RangeError(`options.task must be one of ${allowed.join(', ')} for this ${bundleTask} bundle, got ${JSON.stringify(requested)}`);
  }
  return requested as Task;
}

/** Checks `options` against the bundle and fills in its defaults. Unknown option names are an error. */
export function resolveOptions(manifest: BundleManifest, options: AnnotateOptions | undefined, documentCount: number): ResolvedOptions {
  const o = options ?? {};
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new TypeError('options must be an object');
  for (const name of Object.keys(o)) {
    if (!KNOWN_OPTIONS.has(name)) throw new TypeError(`unknown option "${name}"; known options: ${[...KNOWN_OPTIONS].join(', ')}`);
  }
  const windowSize = positiveInteger('windowSize', o.windowSize, manifest.windows.size);
  const windowStride = positiveInteger('windowStride', o.windowStride, o.windowSize === undefined ? manifest.windows.stride : Math.max(1, Math.floor(windowSize / 2)));
  if (windowStride > windowSize) throw new RangeError(`options.windowStride (${windowStride}) must not exceed windowSize (${windowSize})`);
  if (o.mentions !== undefined) {
    if (!Array.isArray(o.mentions) || o.mentions.length !== documentCount) {
      throw new TypeError(`options.mentions must be an array with one mention list per input text (${documentCount})`);
    }
  }
  const task = resolveTask(manifest.task, o.task);
  const windowStrategy = o.windowStrategy ?? manifest.windows.strategy;
  if (windowStrategy !== 'words' && windowStrategy !== 'sentences') {
    throw new RangeError(`options.windowStrategy must be one of words, sentences, got ${JSON.stringify(o.windowStrategy)}`);
  }
  return {
    task,
    topK: positiveInteger('topK', o.topK, manifest.entities?.topK ?? 1),
    aliasTopK: nonNegativeInteger('aliasTopK', o.aliasTopK, manifest.entities?.aliasTopK ?? 0),
    aliasPriorWeight: nonNegativeNumber('aliasPriorWeight', o.aliasPriorWeight, manifest.entities?.aliasPriorWeight ?? 0),
    linkThreshold: threshold('linkThreshold', o.linkThreshold, manifest.entities?.linkThreshold ?? 0),
    relationTopK: positiveInteger('relationTopK', o.relationTopK, manifest.relations?.topK ?? 1),
    windowSize,
    windowStride,
    windowStrategy,
    relationThreshold: threshold('relationThreshold', o.relationThreshold, manifest.reader.relationThreshold),
    relationsPerPair: nonNegativeInteger('relationsPerPair', o.relationsPerPair, manifest.reader.relationsPerPair),
    returnWindows: flag('returnWindows', o.returnWindows, false),
    returnCandidates: flag('returnCandidates', o.returnCandidates, false),
    keepNme: flag('keepNme', o.keepNme, task !== 'el'),
    useDocTopic: flag('useDocTopic', o.useDocTopic, manifest.entities?.useDocTopic ?? false),
    mentions: o.mentions,
    entityCandidates: candidates('entityCandidates', o.entityCandidates),
    relationCandidates: candidates('relationCandidates', o.relationCandidates),
  };
}

/** A document ready for the pipeline: its text and words (given, or from the rule tokenizer). */
export interface PreparedDocument {
  readonly text: string;
  readonly words: readonly Word[];
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/u;

/** Checks one input (string or {text, words}) and splits it into words. */
export function prepareDocument(input: AnnotateInput, index: number, mentions: readonly GivenMention[] | undefined): PreparedDocument {
  const where = `texts[${index}]`;
  const doc: DocumentInput = typeof input === 'string' ? { text: input } : input;
  if (typeof doc !== 'object' || doc === null || typeof doc.text !== 'string') {
    throw new TypeError(`${where} must be a string or {text: string, words?: Word[]}, got ${doc === null ? 'null' : typeof doc}`);
  }
  const { text } = doc;
  if (text.length > MAX_TEXT_LENGTH) throw new RangeError(`${where} has ${text.length} characters; the limit is ${MAX_TEXT_LENGTH} per text (split the corpus into documents)`);
  if (LONE_SURROGATE.test(text)) throw new TypeError(`${where} is not valid Unicode: it contains an unpaired UTF-16 surrogate`);
  let words: readonly Word[];
  if (doc.words !== undefined) {
    if (!Array.isArray(doc.words)) throw new TypeError(`${where}.words must be an array of {text, start, end}`);
    validateWords(text, doc.words, `${where}.words`);
    words = doc.words;
  } else {
    words = splitWords(text);
  }
  if (mentions !== undefined) {
    if (!Array.isArray(mentions)) throw new TypeError(`options.mentions[${index}] must be an array of {start, end}`);
    mentions.forEach((m, i) => {
      if (typeof m !== 'object' || m === null || !Number.isInteger(m.start) || !Number.isInteger(m.end) || m.start < 0 || m.end <= m.start || m.end > text.length) {
        throw new RangeError(`options.mentions[${index}][${i}] must be {start, end} with 0 <= start < end <= ${text.length}`);
      }
    });
    words = splitWordsAt(words, mentions);
  }
  return { text, words };
}

/** Cuts words at the given mention boundaries so every mention starts and ends at a word edge. */
export function splitWordsAt(words: readonly Word[], mentions: readonly GivenMention[]): Word[] {
  const cuts = new Set<number>();
  for (const m of mentions) {
    cuts.add(m.start);
    cuts.add(m.end);
  }
  const out: Word[] = [];
  for (const word of words) {
    let start = word.start;
    for (let c = word.start + 1; c < word.end; c++) {
      if (!cuts.has(c)) continue;
      out.push({ text: word.text.slice(start - word.start, c - word.start), start, end: c });
      start = c;
    }
    out.push({ text: word.text.slice(start - word.start), start, end: word.end });
  }
  return out;
}
