import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DatasetError } from '../../src/data/errors.js';
import { IssueLog } from '../../src/data/issues.js';
import { codePointToUtf16 } from '../../src/data/offsets.js';
import { documentToJsonl, parseDocumentLine, readEvalJsonl, validateDocument } from '../../src/data/schema.js';

const where = { file: 'mine.jsonl', line: 7 };

function errorOf(fn: () => unknown): DatasetError {
  try {
    fn();
  } catch (err) {
    if (err instanceof DatasetError) return err;
    throw err;
  }
  throw new Error('expected a DatasetError');
}

describe('evaluation schema parser', () => {
  it('parses a full document and round-trips it', () => {
    const line = JSON.stringify({
      id: 'd1',
      text: 'Obama visited Paris.',
      words: [
        { text: 'Obama', start: 0, end: 5 },
        { text: 'visited', start: 6, end: 13 },
        { text: 'Paris', start: 14, end: 19 },
        { text: '.', start: 19, end: 20 },
      ],
      spans: [
        { start: 0, end: 5, label: 'Barack Obama', id: 'Q76' },
        { start: 14, end: 19, label: '--NME--' },
      ],
      triplets: [{ subject: 0, relation: 'visited', object: 1 }],
    });
    const doc = parseDocumentLine(line, where);
    expect(doc.spans).toEqual([
      { start: 0, end: 5, label: 'Barack Obama', id: 'Q76' },
      { start: 14, end: 19, label: '--NME--' },
    ]);
    expect(doc.triplets).toEqual([{ subject: 0, relation: 'visited', object: 1 }]);
    expect(parseDocumentLine(documentToJsonl(doc), where)).toEqual(doc);
  });

  it('defaults missing spans and triplets to empty lists', () => {
    expect(validateDocument({ id: 'x', text: 'hi' }, where)).toEqual({ id: 'x', text: 'hi', spans: [], triplets: [] });
  });

  it.each([
    ['{"id": "a", "text": ', /^mine\.jsonl:7: invalid JSON/],
    ['[1,2]', /^mine\.jsonl:7: a document must be a JSON object/],
    ['{"id": 3, "text": "x"}', /"id" must be a non-empty string/],
    ['{"id": "a"}', /"text" must be a string/],
    ['{"id": "a", "text": "x", "span": []}', /unknown field "span"; allowed fields: id, text, words, spans, triplets/],
    ['{"id": "a", "text": "xy", "spans": [{"start": 1, "end": 1}]}', /spans\[0\] has end 1 <= start 1/],
    ['{"id": "a", "text": "xy", "spans": [{"start": 0.5, "end": 1}]}', /spans\[0\] needs integer "start" and "end"/],
    ['{"id": "a", "text": "xy", "spans": [{"start": 0, "end": 1, "label": 4}]}', /spans\[0\]\.label must be a string/],
    ['{"id": "a", "text": "xy", "spans": [{"start": 0, "end": 1}], "triplets": [{"subject": 0, "relation": "r", "object": 1}]}', /triplets\[0\]\.object must be an index into spans \(0\.\.0\), got 1/],
    ['{"id": "a", "text": "xy", "triplets": [{"subject": 0, "relation": "", "object": 0}]}', /triplets\[0\]\.relation must be a non-empty string/],
    ['{"id": "a", "text": "ab cd", "words": [{"text": "ab", "start": 0, "end": 2}, {"text": "c", "start": 1, "end": 2}]}', /words\[1\] \[1, 2\) must be non-empty, in order, non-overlapping/],
    ['{"id": "a", "text": "ab cd", "words": [{"text": "ab", "start": 0, "end": 2}, {"text": "cx", "start": 3, "end": 5}]}', /words\[1\]\.text "cx" differs from text\.slice\(3, 5\) = "cd"/],
  ])('rejects %s with file, line and reason', (line, reason) => {
    const err = errorOf(() => parseDocumentLine(line, where));
    expect(err.file).toBe('mine.jsonl');
    expect(err.line).toBe(7);
    expect(err.message).toMatch(reason);
  });

  it('counts and reports spans outside the text, dropping their triplets', () => {
    const issues = new IssueLog();
    const doc = validateDocument(
      {
        id: 'a',
        text: 'abc def',
        spans: [
          { start: 0, end: 3 },
          { start: 4, end: 9 },
          { start: 4, end: 7 },
        ],
        triplets: [
          { subject: 0, relation: 'r', object: 1 },
          { subject: 0, relation: 'r', object: 2 },
        ],
      },
      where,
      issues,
    );
    expect(doc.spans).toEqual([
      { start: 0, end: 3 },
      { start: 4, end: 7 },
    ]);
    expect(doc.triplets).toEqual([{ subject: 0, relation: 'r', object: 1 }]);
    expect(issues.count('span-outside-text')).toBe(1);
    expect(issues.count('triplet-dropped')).toBe(1);
    expect(issues.toJSON().examples[0]).toMatchObject({ file: 'mine.jsonl', line: 7, docId: 'a', message: 'span [4, 9) is outside the text (length 7)' });
  });

  it('throws on spans outside the text when no issue log is given', () => {
    expect(() => validateDocument({ id: 'a', text: 'ab', spans: [{ start: 0, end: 3 }] }, where)).toThrow(
      /mine\.jsonl:7: spans\[0\]: span \[0, 3\) is outside the text \(length 2\)/,
    );
  });

  it('reads a JSONL file, naming the failing line and rejecting duplicate ids', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relik-schema-'));
    const file = join(dir, 'docs.jsonl');
    writeFileSync(file, '{"id": "a", "text": "x"}\n\n{"id": "b", "text": "y"}\n{"id": "b", "text": "z"}\n');
    const ids: string[] = [];
    await expect(
      (async () => {
        for await (const d of readEvalJsonl(file)) ids.push(d.id);
      })(),
    ).rejects.toThrow(`${file}:4: duplicate document id "b"`);
    expect(ids).toEqual(['a', 'b']);
    writeFileSync(file, '{"id": "a", "text": "x"}\n{"id": "b" "text": "y"}\n');
    const gen = readEvalJsonl(file);
    expect((await gen.next()).value).toMatchObject({ id: 'a', text: 'x' });
    await gen.return(undefined);
    const all = async (): Promise<void> => {
      for await (const _ of readEvalJsonl(file)) void _;
    };
    await expect(all()).rejects.toThrow(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: invalid JSON`));
    await expect(readEvalJsonl(join(dir, 'missing.jsonl')).next()).rejects.toThrow(/missing\.jsonl: cannot read file/);
  });
});

describe('code point to UTF-16 offsets', () => {
  it('is the identity on BMP text', () => {
    const f = codePointToUtf16('héllo');
    expect([0, 3, 5].map(f)).toEqual([0, 3, 5]);
  });

  it('shifts offsets after astral characters', () => {
    const text = 'a😀b 𝄞c';
    const f = codePointToUtf16(text);
    // code points: a 😀 b ␠ 𝄞 c  -> UTF-16: a(0) 😀(1,2) b(3) ␠(4) 𝄞(5,6) c(7)
    expect([0, 1, 2, 3, 4, 5, 6].map(f)).toEqual([0, 1, 3, 4, 5, 7, 8]);
    expect(text.slice(f(5), f(6))).toBe('c');
    expect(f(8)).toBe(10);
  });
});
