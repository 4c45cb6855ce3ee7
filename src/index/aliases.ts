import { splitWords } from '../text/words.js';
import type { Passage } from './passages.js';

/** One way a KB entry is named in text, with how often it was seen naming that entry (its prior). */
export interface Alias {
  readonly text: string;
  readonly count: number;
}

/** A KB row one n-gram of the text may name, with the prior of that name for that row. */
export interface AliasEntry {
  readonly row: number;
  readonly prior: number;
  /** The name is the row's full title or an alias seen in data (not one derived from its title). */
  readonly exact?: boolean;
}

/** Longest alias, in words, looked up in text: longer names are rare and slow every window's scan. */
const MAX_ALIAS_WORDS = 8;
/** Rows kept per alias: a name shared by hundreds of entries ("John Smith") tells the reader little. */
const MAX_ROWS_PER_ALIAS = 16;
/** Priors of names derived from titles, below any alias seen once in data (count >= 1). */
const TITLE_PRIOR = 0.5;
const SHORT_TITLE_PRIOR = 0.25;
const LAST_NAME_PRIOR = 0.1;
/** "Buffalo" for "Buffalo Sabres": the longest leading words of a title that are another entry's (qualifier-less) title. */
const LEADING_WORDS_PRIOR = 0.05;
/**
 * Title-derived priors are scaled, within each name, by ((popularity + 1) / (the name's most popular + 1))^exponent:
 * "Buffalo" names the Bills (4,724 in-links) and the Sabres (3,132) well above "Buffalo (band)" (37). Chosen on AIDA
 * testa with leading words from titles only (EL F1 77.53 / 77.49 / 78.00 / 78.08 / 78.16 at 0.25 / 0.5 / 1 / 1.5 /
 * 2; 77.57 before): 1, plain proportion, as the curve flattens past it.
 */
const POPULARITY_EXPONENT = 1;
/**
 * Prior of a name a document gives an entry (see {@link AliasTable.documentNames}): above any title, like a name
 * seen 5 times in training (chosen on AIDA testa among 5, 20 and 100: 72.25, 72.20, 72.10 EL F1).
 */
const DOCUMENT_NAME_PRIOR = 5;

/** Names one document gives entries, keyed like the table (see {@link AliasTable.documentNames}). */
export type DocumentNames = ReadonlyMap<string, readonly AliasEntry[]>;

/** Lookup key of a name: its words (by the runtime's word rule), lower-cased, joined by single spaces. */
export function aliasKey(words: readonly string[]): string {
  return words.join(' ').toLocaleLowerCase('en-US');
}

/** "Paris (band)" -> "Paris"; "Springfield, Illinois" -> "Springfield": how such entries are written in text. */
function shortTitles(title: string): string[] {
  const noParenthetical = title.replace(/\s*\([^()]*\)\s*$/u, '');
  const beforeComma = noParenthetical.split(', ')[0] as string;
  return [...new Set([noParenthetical, beforeComma])].filter((t) => t !== title && t.trim() !== '');
}

/**
 * "Bill Clinton" -> "Clinton": the last word of a 2-4 word capitalised title, as people and organisations are
 * named after first mention. Its prior is the lowest, so an entry titled by that word (York) comes first.
 */
function lastNameOf(title: string): string | null {
  const words = (shortTitles(title).at(-1) ?? title).split(' ');
  if (words.length < 2 || words.length > 4 || !words.every((w) => /^\p{Lu}/u.test(w))) return null;
  const last = words[words.length - 1] as string;
  return /^\p{Lu}\p{Ll}{2,}$/u.test(last) ? last : null;
}

/**
 * The longest leading words (fewer than all, the first capitalised) of a title's words that are themselves some
 * entry's title or qualifier-less title: "Buffalo Sabres" -> "Buffalo" (from "Buffalo, Illinois" and others: the KB
 * has no "Buffalo"), "West Indies cricket team" -> "West Indies"; null if none.
 */
function leadingTitleWords(words: readonly string[], titleKeys: ReadonlySet<string>): string[] | null {
  if (words.length < 2 || !/^\p{Lu}/u.test(words[0] as string)) return null;
  for (let length = words.length - 1; length >= 1; length--) {
    const lead = words.slice(0, length);
    if (titleKeys.has(aliasKey(lead))) return lead;
  }
  return null;
}

/**
 * Each passage's popularity, those without one at the median of those with one (neither favoured nor held back:
 * a KB whose counts cover only part of it does not rank the rest last); all 1 when no passage has one.
 */
function popularityOf(passages: readonly Passage[]): number[] {
  const known = passages.flatMap((p) => (p.popularity === undefined ? [] : [p.popularity])).sort((a, b) => a - b);
  const median = known.length === 0 ? 1 : (known[Math.floor((known.length - 1) / 2)] as number);
  return passages.map((p) => p.popularity ?? median);
}

/** Text words starting with a capital letter or a digit: where names begin in cased languages. */
const NAME_START = /^[\p{Lu}\p{Lt}\p{N}]/u;

/**
 * Name lookup for candidate generation: maps every title (also without its parenthetical or comma qualifier)
 * and every alias of an index's passages to KB rows, and finds which word n-grams of a window name KB entries.
 * It adds candidates the dense retriever misses when the text names an entity the way the KB does.
 */
export class AliasTable {
  private constructor(
    private readonly entries: ReadonlyMap<string, readonly AliasEntry[]>,
    readonly maxWords: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** A name's rows: the KB's, joined by a document's own names (stronger prior wins per row). */
  private rowsOf(key: string, local: DocumentNames | undefined): readonly AliasEntry[] | undefined {
    const global = this.entries.get(key);
    const own = local?.get(key);
    if (own === undefined) return global;
    if (global === undefined) return own;
    const merged = new Map(global.map((e) => [e.row, e.prior]));
    for (const e of own) merged.set(e.row, Math.max(merged.get(e.row) ?? 0, e.prior));
    return [...merged].map(([row, prior]) => ({ row, prior })).sort((a, b) => b.prior - a.prior || a.row - b.row).slice(0, MAX_ROWS_PER_ALIAS);
  }

  /**
   * Names a document gives its entities: a capitalised multiword name that names a KB entry by title or alias
   * ("MaliVai Washington") makes its last word ("Washington") name that entry in the whole document, with the
   * prior of a name seen 5 times: later "Washington" may be the tennis player, not only the state.
   */
  documentNames(words: readonly string[]): DocumentNames {
    const names = new Map<string, AliasEntry[]>();
    words.forEach((word, start) => {
      if (!NAME_START.test(word)) return;
      for (let length = Math.min(this.maxWords, words.length - start); length >= 2; length--) {
        const phrase = words.slice(start, start + length);
        const best = this.entries.get(aliasKey(phrase))?.find((e) => e.exact === true);
        if (best === undefined) continue;
        const last = lastNameOf(phrase.join(' '));
        if (last === null) continue;
        const key = aliasKey([last]);
        const rows = names.get(key) ?? [];
        if (!rows.some((e) => e.row === best.row)) rows.push({ row: best.row, prior: DOCUMENT_NAME_PRIOR });
        names.set(key, rows);
        break; // the longest name starting here
      }
    });
    return names;
  }

  static fromPassages(passages: readonly Passage[]): AliasTable {
    const popularity = popularityOf(passages);
    const wordsOf = (name: string): string[] => splitWords(name).map((w) => w.text);
    // Each title's words and its qualifier-less forms' words, split once: names of their own and leading-words keys.
    const titles = passages.map((p) => ({ words: wordsOf(p.title), shorts: shortTitles(p.title).map(wordsOf) }));
    const titleKeys = new Set(titles.flatMap((t) => [t.words, ...t.shorts].map(aliasKey)));
    /** Per name: each row's title-derived prior and its data-alias count, kept apart until popularity scales the first. */
    const byKey = new Map<string, Map<number, { derived: number; seen: number; exact: boolean }>>();
    let maxWords = 1;
    const add = (words: readonly string[], row: number, prior: number, kind: 'title' | 'derived' | 'alias'): void => {
      if (words.length === 0 || words.length > MAX_ALIAS_WORDS) return;
      maxWords = Math.max(maxWords, words.length);
      const key = aliasKey(words);
      let rows = byKey.get(key);
      if (rows === undefined) byKey.set(key, (rows = new Map()));
      const entry = rows.get(row) ?? { derived: 0, seen: 0, exact: false };
      if (kind === 'alias') entry.seen = Math.max(entry.seen, prior);
      else entry.derived = Math.max(entry.derived, prior);
      entry.exact ||= kind !== 'derived';
      rows.set(row, entry);
    };
    passages.forEach((passage, row) => {
      const { words, shorts } = titles[row] as { words: string[]; shorts: string[][] };
      add(words, row, TITLE_PRIOR, 'title');
      for (const short of shorts) add(short, row, SHORT_TITLE_PRIOR, 'derived');
      const last = lastNameOf(passage.title);
      if (last !== null) add([last], row, LAST_NAME_PRIOR, 'derived');
      const leading = leadingTitleWords(shorts[0] ?? words, titleKeys);
      if (leading !== null) add(leading, row, LEADING_WORDS_PRIOR, 'derived');
      for (const alias of passage.aliases ?? []) add(wordsOf(alias.text), row, alias.count, 'alias');
    });
    const entries = new Map<string, AliasEntry[]>();
    for (const [key, rows] of byKey) {
      let top = 0;
      for (const [row, e] of rows) if (e.derived > 0) top = Math.max(top, popularity[row] as number);
      const scored = [...rows].map(([row, e]): AliasEntry => {
        const scale = e.derived > 0 ? (((popularity[row] as number) + 1) / (top + 1)) ** POPULARITY_EXPONENT : 0;
        return { row, prior: Math.max(e.seen, e.derived * scale), exact: e.exact };
      });
      scored.sort((a, b) => b.prior - a.prior || a.row - b.row);
      entries.set(key, scored.slice(0, MAX_ROWS_PER_ALIAS));
    }
    return new AliasTable(entries, maxWords);
  }

  /**
   * p(row | name) for the name `words` (each row's prior over the name's rows), or null when no KB entry has
   * that name. Rows past the per-name cap are absent (probability 0).
   */
  priorsOf(words: readonly string[], local?: DocumentNames): ReadonlyMap<number, number> | null {
    const rows = this.rowsOf(aliasKey(words), local);
    if (rows === undefined) return null;
    const total = rows.reduce((sum, e) => sum + e.prior, 0);
    return new Map(rows.map((e) => [e.row, e.prior / total]));
  }

  /**
   * Up to `limit` KB rows named in `words`, best first: every name's most likely row (highest prior; longer
   * names first among equals), then every name's second row, and so on. Only n-grams that start with a
   * capitalised word or a digit are looked up.
   */
  rowsNamedIn(words: readonly string[], limit: number, local?: DocumentNames): number[] {
    if (limit <= 0) return [];
    const found: { start: number; length: number; rows: readonly AliasEntry[] }[] = [];
    words.forEach((word, start) => {
      if (!NAME_START.test(word)) return;
      for (let length = Math.min(this.maxWords, words.length - start); length >= 1; length--) {
        const rows = this.rowsOf(aliasKey(words.slice(start, start + length)), local);
        if (rows !== undefined) found.push({ start, length, rows });
      }
    });
    found.sort((a, b) => (b.rows[0] as AliasEntry).prior - (a.rows[0] as AliasEntry).prior || b.length - a.length || a.start - b.start);
    const out: number[] = [];
    const taken = new Set<number>();
    for (let level = 0; out.length < limit; level++) {
      let any = false;
      for (const name of found) {
        const entry = name.rows[level];
        if (entry === undefined) continue;
        any = true;
        if (taken.has(entry.row)) continue;
        taken.add(entry.row);
        out.push(entry.row);
        if (out.length === limit) break;
      }
      if (!any) break;
    }
    return out;
  }
}
