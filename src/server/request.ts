/**
 * Validation of `POST /annotate` bodies on the main thread, before anything is queued, so a bad request
 * is answered at once (and never shares a batch with good ones).
 */
import type { BundleManifest } from '../bundle/manifest.js';
import { prepareDocument, resolveOptions } from '../options.js';
import type { AnnotateInput, AnnotateOptions, GivenMention } from '../types.js';
import { HttpError } from './errors.js';

/** Per-request limits on texts. */
export interface RequestLimits {
  /** Longest text, in characters (UTF-16 code units). */
  readonly maxTextLength: number;
  /** Most texts in one request. */
  readonly maxTexts: number;
}

/** A checked annotate request. */
export interface AnnotateRequest {
  readonly inputs: readonly AnnotateInput[];
  readonly options: AnnotateOptions;
  /** The body had `text` (answer with `result`) rather than `texts` (answer with `results`). */
  readonly single: boolean;
}

const FIELDS = ['text', 'texts', 'options'];
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/u;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkText(input: unknown, where: string, limits: RequestLimits): AnnotateInput {
  const text = typeof input === 'string' ? input : isRecord(input) ? input.text : undefined;
  if (typeof text !== 'string') throw new HttpError('InvalidRequest', `${where} must be a string or {"text": string, "words"?: [...]}, got ${describe(input)}`);
  if (text.length > limits.maxTextLength) throw new HttpError('TextTooLong', `${where} has ${text.length} characters; the limit is ${limits.maxTextLength}`);
  if (text.trim() === '') throw new HttpError('EmptyText', `${where} is empty; give a non-empty text`);
  if (LONE_SURROGATE.test(text)) throw new HttpError('InvalidRequest', `${where} is not valid Unicode: it contains an unpaired UTF-16 surrogate`);
  return input as AnnotateInput;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

/**
 * Checks a parsed JSON body: `{"text": ...}` or `{"texts": [...]}`, optional `"options"` as in the
 * library's `AnnotateOptions` (unknown names and wrong types are rejected with the library's message).
 */
export function parseAnnotateRequest(body: unknown, manifest: BundleManifest, limits: RequestLimits): AnnotateRequest {
  if (!isRecord(body)) throw new HttpError('InvalidRequest', `request body must be a JSON object like {"text": "..."}, got ${describe(body)}`);
  for (const key of Object.keys(body)) {
    if (!FIELDS.includes(key)) throw new HttpError('InvalidRequest', `unknown field "${key}"; fields: ${FIELDS.join(', ')}`);
  }
  const hasText = body.text !== undefined;
  const hasTexts = body.texts !== undefined;
  if (hasText === hasTexts) throw new HttpError('InvalidRequest', 'give exactly one of "text" (one document) or "texts" (an array of documents)');
  let inputs: AnnotateInput[];
  if (hasText) inputs = [checkText(body.text, 'text', limits)];
  else {
    if (!Array.isArray(body.texts)) throw new HttpError('InvalidRequest', `"texts" must be an array, got ${describe(body.texts)}`);
    if (body.texts.length === 0) throw new HttpError('InvalidRequest', '"texts" is empty; give at least one text');
    if (body.texts.length > limits.maxTexts) throw new HttpError('TooManyTexts', `"texts" has ${body.texts.length} texts; the limit is ${limits.maxTexts} per request`);
    inputs = body.texts.map((t: unknown, i) => checkText(t, `texts[${i}]`, limits));
  }
  const options = body.options ?? {};
  if (!isRecord(options)) throw new HttpError('InvalidOption', `"options" must be an object, got ${describe(options)}`);
  try {
    const resolved = resolveOptions(manifest, options as AnnotateOptions, inputs.length);
    if (resolved.task !== 'el' && manifest.relations === null) throw new RangeError(`options.task ${resolved.task} needs relations, which this bundle does not have`);
    // Word lists and given mentions are checked the same way the library will check them.
    inputs.forEach((input, i) => {
      const mentions = resolved.mentions?.[i] as readonly GivenMention[] | undefined;
      if (typeof input !== 'string' || mentions !== undefined) prepareDocument(input, i, mentions);
    });
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) {
      throw new HttpError('InvalidOption', hasText ? error.message.replace(/^texts\[0\]/, 'text') : error.message);
    }
    throw error;
  }
  return { inputs, options: options as AnnotateOptions, single: hasText };
}
