import type { Word } from '../types.js';

/**
 * Returns a function mapping a code-point offset (Python `str` index) of `text` to a UTF-16 offset (JavaScript
 * string index). Offsets past the end map past the end by the same amount, so out-of-range spans stay
 * detectable. Text without astral characters maps to itself.
 */
export function codePointToUtf16(text: string): (codePoint: number) => number {
  if (!/[\uD800-\uDBFF][\uDC00-\uDFFF]/.test(text)) return (cp) => cp;
  const table: number[] = [];
  let unit = 0;
  for (const ch of text) {
    table.push(unit);
    unit += ch.length;
  }
  table.push(unit);
  const last = table.length - 1;
  return (cp) => {
    if (cp < 0) return cp;
    if (cp <= last) return table[cp] ?? cp;
    return unit + (cp - last);
  };
}

/** Joins words with single spaces and returns the text with each word's UTF-16 offsets. */
export function joinWords(tokens: readonly string[]): { text: string; words: Word[] } {
  const words: Word[] = [];
  let pos = 0;
  for (const token of tokens) {
    words.push({ text: token, start: pos, end: pos + token.length });
    pos += token.length + 1;
  }
  return { text: tokens.join(' '), words };
}

/**
 * Locates `tokens` in order inside `text` (each token searched from the end of the previous one). Returns null
 * when a token cannot be found, so the caller can report it.
 */
export function alignWords(text: string, tokens: readonly string[]): Word[] | null {
  const words: Word[] = [];
  let pos = 0;
  for (const token of tokens) {
    const start = text.indexOf(token, pos);
    if (start < 0 || token.length === 0) return null;
    words.push({ text: token, start, end: start + token.length });
    pos = start + token.length;
  }
  return words;
}

/** Splits text on whitespace into words with UTF-16 offsets (for pre-tokenised, space-separated text). */
export function whitespaceWords(text: string): Word[] {
  const words: Word[] = [];
  for (const m of text.matchAll(/\S+/gu)) words.push({ text: m[0], start: m.index, end: m.index + m[0].length });
  return words;
}
