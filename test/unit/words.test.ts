import { describe, expect, it } from 'vitest';
import { splitWords, validateWords } from '../../src/text/words.js';

const texts = (s: string): string[] => splitWords(s).map((w) => w.text);

describe('splitWords', () => {
  it('splits punctuation, clitics and keeps abbreviations and numbers whole', () => {
    expect(texts("Obama's U.S. visit cost $1,000.50, didn't it?")).toEqual([
      'Obama', "'s", 'U.S.', 'visit', 'cost', '$', '1,000.50', ',', 'did', "n't", 'it', '?',
    ]);
  });

  it('gives UTF-16 offsets that slice back to the word, with emoji and CJK', () => {
    const text = 'I ❤️ Paris 😀👍🏽 東京に行く. Émile Zola';
    const words = splitWords(text);
    for (const w of words) expect(text.slice(w.start, w.end)).toBe(w.text);
    expect(words.map((w) => w.text)).toEqual(['I', '❤️', 'Paris', '😀', '👍🏽', '東', '京', 'に', '行', 'く', '.', 'Émile', 'Zola']);
    const paris = words[2];
    expect(paris).toEqual({ text: 'Paris', start: 5, end: 10 });
    expect(words.at(-1)).toEqual({ text: 'Zola', start: text.length - 4, end: text.length });
  });

  it('treats whitespace runs as separators, never as words, and returns [] for blank text', () => {
    expect(texts('a \n\n\t b')).toEqual(['a', 'b']);
    expect(splitWords('   ')).toEqual([]);
    expect(splitWords('')).toEqual([]);
  });

  it('keeps a ZWJ emoji sequence together and splits hyphenated names', () => {
    expect(texts('👩‍👩‍👧 Jean-Pierre')).toEqual(['👩‍👩‍👧', 'Jean', '-', 'Pierre']);
  });

  it('rejects non-strings with a TypeError', () => {
    expect(() => splitWords(42 as unknown as string)).toThrow(TypeError);
  });
});

describe('validateWords', () => {
  it('accepts consistent words and names the first bad one', () => {
    const text = 'New York';
    expect(() => validateWords(text, [{ text: 'New', start: 0, end: 3 }, { text: 'York', start: 4, end: 8 }])).not.toThrow();
    expect(() => validateWords(text, [{ text: 'York', start: 4, end: 8 }, { text: 'New', start: 0, end: 3 }])).toThrow(/words\[1\].*in order/);
    expect(() => validateWords(text, [{ text: 'Nex', start: 0, end: 3 }])).toThrow(/words\[0\]\.text "Nex" differs/);
  });
});
