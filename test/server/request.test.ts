/** Request validation, body decoding and error mapping, without starting a server. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/bundle/manifest.js';
import { parseJsonBytes } from '../../src/server/body.js';
import { HttpError, toHttpError } from '../../src/server/errors.js';
import { parseAnnotateRequest } from '../../src/server/request.js';
import { bundle } from './helpers.js';

const manifestOf = (name: string) => {
  const path = join(bundle(name), 'relik.json');
  return parseManifest(readFileSync(path, 'utf8'), path);
};
const cie = manifestOf('tiny-cie');
const el = manifestOf('tiny-el');
const limits = { maxTextLength: 50, maxTexts: 3 };

function rejects(body: unknown, type: string, message: RegExp, manifest = cie): void {
  try {
    parseAnnotateRequest(body, manifest, limits);
  } catch (error) {
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).type).toBe(type);
    expect((error as HttpError).message).toMatch(message);
    return;
  }
  throw new Error(`accepted ${JSON.stringify(body)}`);
}

describe('parseAnnotateRequest', () => {
  it('accepts text or texts with options, and says which form was used', () => {
    expect(parseAnnotateRequest({ text: 'Ada Lovelace.' }, cie, limits)).toEqual({ inputs: ['Ada Lovelace.'], options: {}, single: true });
    const many = parseAnnotateRequest({ texts: ['a b', { text: 'c d', words: [{ text: 'c', start: 0, end: 1 }, { text: 'd', start: 2, end: 3 }] }], options: { topK: 2, returnCandidates: true } }, cie, limits);
    expect(many.single).toBe(false);
    expect(many.inputs).toHaveLength(2);
    expect(many.options).toEqual({ topK: 2, returnCandidates: true });
  });

  it('rejects wrong shapes with InvalidRequest', () => {
    rejects([], 'InvalidRequest', /JSON object/);
    rejects(null, 'InvalidRequest', /got null/);
    rejects({}, 'InvalidRequest', /exactly one of "text"/);
    rejects({ text: 'a', texts: ['b'] }, 'InvalidRequest', /exactly one/);
    rejects({ text: 42 }, 'InvalidRequest', /text must be a string/);
    rejects({ texts: 'abc' }, 'InvalidRequest', /"texts" must be an array/);
    rejects({ texts: [] }, 'InvalidRequest', /empty/);
    rejects({ texts: ['ok', null] }, 'InvalidRequest', /texts\[1\] must be a string/);
    rejects({ text: 'a', extra: 1 }, 'InvalidRequest', /unknown field "extra"/);
    rejects({ text: 'broken \ud800 surrogate' }, 'InvalidRequest', /unpaired UTF-16 surrogate/);
  });

  it('rejects empty and too long texts, and too many texts', () => {
    rejects({ text: '   \n' }, 'EmptyText', /text is empty/);
    rejects({ texts: ['fine', ''] }, 'EmptyText', /texts\[1\] is empty/);
    rejects({ text: 'x'.repeat(51) }, 'TextTooLong', /51 characters; the limit is 50/);
    rejects({ texts: ['a', 'b', 'c', 'd'] }, 'TooManyTexts', /4 texts; the limit is 3/);
  });

  it('rejects unknown options and wrong option types with the library message', () => {
    rejects({ text: 'a', options: { topk: 3 } }, 'InvalidOption', /unknown option "topk"/);
    rejects({ text: 'a', options: { topK: 'three' } }, 'InvalidOption', /options\.topK must be an integer >= 1/);
    rejects({ text: 'a', options: { returnCandidates: 'yes' } }, 'InvalidOption', /returnCandidates must be true or false/);
    rejects({ text: 'a', options: [] }, 'InvalidOption', /"options" must be an object/);
    rejects({ text: 'a', options: { task: 're' } }, 'InvalidOption', /task must be one of el/, el);
    rejects({ texts: ['a b'], options: { mentions: [[{ start: 0, end: 9 }]] } }, 'InvalidOption', /mentions\[0\]\[0\]/);
    rejects({ texts: ['a b', 'c'], options: { mentions: [[]] } }, 'InvalidOption', /one mention list per input text/);
    rejects({ text: { text: 'ab', words: [{ text: 'x', start: 0, end: 1 }] } }, 'InvalidOption', /words/);
  });
});

describe('parseJsonBytes', () => {
  it('parses UTF-8 JSON and rejects invalid UTF-8, empty bodies and bad syntax', () => {
    expect(parseJsonBytes(new TextEncoder().encode('{"text":"Zoë 😀"}'))).toEqual({ text: 'Zoë 😀' });
    expect(() => parseJsonBytes(Uint8Array.from([0x7b, 0x22, 0xff, 0x22, 0x7d]))).toThrow(/not valid UTF-8/);
    expect(() => parseJsonBytes(Uint8Array.from([0xc3]))).toThrow(/not valid UTF-8/);
    expect(() => parseJsonBytes(new Uint8Array())).toThrow(/empty/);
    expect(() => parseJsonBytes(new TextEncoder().encode('{"text":'))).toThrow(/not valid JSON/);
  });
});

describe('toHttpError', () => {
  it('maps library input errors to 400 and hides unexpected errors behind a 500', () => {
    expect(toHttpError(new RangeError('options.topK must be ...'))).toMatchObject({ status: 400, type: 'InvalidOption' });
    expect(toHttpError(Object.assign(new Error('x'), { name: 'TypeError' }))).toMatchObject({ status: 400 });
    const internal = toHttpError(new Error('ENOENT /secret/path'));
    expect(internal).toMatchObject({ status: 500, type: 'InternalError' });
    expect(internal.message).not.toContain('/secret/path');
    expect(toHttpError(Object.assign(new Error('Unsupported Media Type'), { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 }))).toMatchObject({ status: 415, type: 'UnsupportedMediaType' });
  });
});
