import type { Word } from '../types.js';

/*
 * A fast rule tokenizer that splits text into words with UTF-16 offsets. It stands in for spaCy's English
 * tokenizer: whitespace separates words and is never a word; punctuation is split off; possessive 's and
 * n't are split off; abbreviations such as "U.S." and numbers such as "1,000.5" stay whole; every Han /
 * Hiragana / Katakana character is a word (those scripts do not use spaces); an emoji with its modifiers
 * and ZWJ sequence is one word.
 */

const CJK = '\\p{Script=Han}\\p{Script=Hiragana}\\p{Script=Katakana}';
const WORD_CHAR = `(?:(?![${CJK}])[\\p{L}\\p{M}\\p{N}_])`;

const WORD_PATTERN = new RegExp(
  [
    '(?:\\p{L}\\.){2,}', // abbreviations: U.S., e.g.
    '\\p{N}+(?:[.,]\\p{N}+)+', // numbers with separators: 1,000 3.14
    `[${CJK}]`, // one ideograph / kana per word
    `${WORD_CHAR}+(?:['’]${WORD_CHAR}+)*`, // letters/digits, with inner apostrophes (O'Neil)
    '\\p{Extended_Pictographic}(?:\\uFE0F|\\p{Emoji_Modifier}|\\u200D\\p{Extended_Pictographic})*', // emoji
    '\\S\\p{M}*', // any other symbol, one code point with its combining marks
  ].join('|'),
  'gu',
);

/** Clitics split off the end of a word, as spaCy does for English. */
const CLITIC = /(?:['’][sS]|[nN]['’][tT])$/u;

/**
 * Splits `text` into words with UTF-16 offsets (`text.slice(w.start, w.end) === w.text`).
 *
 * @example
 * splitWords("Obama's U.S. visit") // -> Obama | 's | U.S. | visit
 */
export function splitWords(text: string): Word[] {
  if (typeof text !== 'string') throw new TypeError(`text must be a string, got ${typeof text}`);
  const words: Word[] = [];
  for (const match of text.matchAll(WORD_PATTERN)) {
    const start = match.index;
    const token = match[0];
    const clitic = token.length > 2 ? CLITIC.exec(token) : null;
    if (clitic !== null && clitic.index > 0) {
      words.push({ text: token.slice(0, clitic.index), start, end: start + clitic.index });
      words.push({ text: clitic[0], start: start + clitic.index, end: start + token.length });
    } else {
      words.push({ text: token, start, end: start + token.length });
    }
  }
  return words;
}

/**
 * Checks caller-given words: in order, non-overlapping, inside the text and equal to the text they cover.
 * Throws a TypeError/RangeError naming the first bad word.
 */
export function validateWords(text: string, words: readonly Word[], parameter = 'words'): void {
  let previousEnd = 0;
  words.forEach((word, i) => {
    if (typeof word !== 'object' || word === null || typeof word.text !== 'string') {
      throw new TypeError(`${parameter}[${i}] must be {text, start, end}`);
    }
    if (!Number.isInteger(word.start) || !Number.isInteger(word.end) || word.start < previousEnd || word.end <= word.start || word.end > text.length) {
      throw new RangeError(
        `${parameter}[${i}] has offsets [${word.start}, ${word.end}); words must be in order, non-empty, non-overlapping and inside the text (length ${text.length})`,
      );
    }
    if (text.slice(word.start, word.end) !== word.text) {
      throw new RangeError(`${parameter}[${i}].text ${JSON.stringify(word.text)} differs from the text at [${word.start}, ${word.end})`);
    }
    previousEnd = word.end;
  });
}
