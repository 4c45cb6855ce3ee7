import { describe, expect, it } from 'vitest';
import { AliasTable, aliasKey } from '../../src/index/aliases.js';
import { parsePassage, type Passage } from '../../src/index/passages.js';
import { IndexError } from '../../src/errors.js';
import { splitWords } from '../../src/text/words.js';

const words = (text: string): string[] => splitWords(text).map((w) => w.text);

const passages: Passage[] = [
  { id: 'Bill Clinton', title: 'Bill Clinton', text: 'Bill Clinton', aliases: [{ text: 'Clinton', count: 12 }] },
  { id: 'Hillary Clinton', title: 'Hillary Clinton', text: 'Hillary Clinton', aliases: [{ text: 'Clinton', count: 3 }] },
  { id: 'Paris', title: 'Paris', text: 'Paris' },
  { id: 'Paris (band)', title: 'Paris (band)', text: 'Paris (band)' },
  { id: 'Springfield, Illinois', title: 'Springfield, Illinois', text: 'Springfield, Illinois' },
  { id: 'York', title: 'York', text: 'York' },
  { id: 'Walter Scott', title: 'Walter Scott', text: 'Walter Scott' },
  { id: 'Scott', title: 'Scott', text: 'Scott' },
  { id: 'New York City', title: 'New York City', text: 'New York City', aliases: [{ text: 'New York', count: 5 }] },
  { id: 'U.S.', title: 'United States', text: 'United States', aliases: [{ text: 'U.S.', count: 40 }] },
];
const table = AliasTable.fromPassages(passages);
const ids = (rows: readonly number[]): string[] => rows.map((r) => passages[r]!.id);

describe('AliasTable', () => {
  it('keys names by their words, lower-cased', () => {
    expect(aliasKey(words('New  York'))).toBe('new york');
    expect(aliasKey(words('U.S.'))).toBe('u.s.');
  });

  it('names entries by title, title without qualifier, last name and alias, with priors in that order of strength', () => {
    // Seen in data beats a title (a name's prior for a row is its strongest source: 12, not 12 + last name 0.1);
    // the exact title beats a title without its parenthetical.
    expect([...table.priorsOf(words('Clinton'))!.entries()].map(([row, p]) => [passages[row]!.id, p])).toEqual([
      ['Bill Clinton', 12 / 15],
      ['Hillary Clinton', 3 / 15],
    ]);
    expect(ids([...table.priorsOf(words('PARIS'))!.keys()])).toEqual(['Paris', 'Paris (band)']);
    expect(ids([...table.priorsOf(words('Springfield'))!.keys()])).toEqual(['Springfield, Illinois']);
    // An entry titled "Scott" comes before the last word of "Walter Scott".
    expect(ids([...table.priorsOf(words('Scott'))!.keys()])).toEqual(['Scott', 'Walter Scott']);
    expect(table.priorsOf(words('Lyon'))).toBeNull();
  });

  it('finds named rows in a window: each name’s best row first, capitalised n-grams only, at most `limit`', () => {
    const window = words('Clinton flew from New York to Paris , the U.S. said , not from york .');
    // Level 0: the best row of each name, strongest prior first (U.S. 40, Clinton 12, New York 5, then the titles
    // York and Paris in text order);
    // level 1: second rows (Hillary Clinton, Paris (band), New York City via "York").
    expect(ids(table.rowsNamedIn(window, 20))).toEqual(['U.S.', 'Bill Clinton', 'New York City', 'York', 'Paris', 'Hillary Clinton', 'Paris (band)']);
    expect(ids(table.rowsNamedIn(window, 2))).toEqual(['U.S.', 'Bill Clinton']);
    expect(table.rowsNamedIn(window, 0)).toEqual([]);
    expect(table.rowsNamedIn(words('nothing here names anything'), 5)).toEqual([]);
    expect(table.rowsNamedIn([], 5)).toEqual([]);
  });
});

describe('passage aliases', () => {
  const parse = (line: string): Passage => parsePassage(line, 'kb.jsonl:1', new Map(), 1);

  it('reads strings (count 1) and {text, count} objects', () => {
    expect(parse('{"id": "a", "title": "A", "aliases": ["Ay", {"text": "AA", "count": 2.5}]}').aliases).toEqual([
      { text: 'Ay', count: 1 },
      { text: 'AA', count: 2.5 },
    ]);
    expect(parse('{"id": "a", "title": "A", "aliases": []}').aliases).toBeUndefined();
  });

  it('rejects malformed aliases with the line and the expected shape', () => {
    for (const bad of ['"Ay"', '[""]', '[{"text": "Ay"}]', '[{"text": "Ay", "count": 0}]', '[3]']) {
      expect(() => parse(`{"id": "a", "title": "A", "aliases": ${bad}}`)).toThrow(IndexError);
      expect(() => parse(`{"id": "a", "title": "A", "aliases": ${bad}}`)).toThrow(/"aliases" must be an array of non-empty strings.*kb\.jsonl:1/s);
    }
  });
});

describe('popularity and leading title words', () => {
  // Same passages as training/tests/test_aliases.py: same order. Popularity median of the five known: 4,000.
  const kb: Passage[] = [
    { id: 'Buffalo', title: 'Buffalo', text: 'Buffalo' },
    { id: 'Buffalo, New York', title: 'Buffalo, New York', text: 'x', popularity: 20000 },
    { id: 'Buffalo (band)', title: 'Buffalo (band)', text: 'x', popularity: 37 },
    { id: 'Buffalo Sabres', title: 'Buffalo Sabres', text: 'x', popularity: 3132 },
    { id: 'Japan', title: 'Japan', text: 'x', popularity: 90000 },
    { id: 'Japan national football team', title: 'Japan national football team', text: 'x', popularity: 4000 },
  ];
  const names = AliasTable.fromPassages(kb);
  const named = (text: string): string[] => names.rowsNamedIn(words(text), 10).map((r) => kb[r]!.id);

  it('ranks the entries a title-derived name shares by popularity, an entry without one at the median', () => {
    // Buffalo, New York 0.25; Buffalo 0.5 * 4001 / 20001; the team 0.05 * 3133 / 20001; the band 0.25 * 38 / 20001
    expect(named('Buffalo')).toEqual(['Buffalo, New York', 'Buffalo', 'Buffalo Sabres', 'Buffalo (band)']);
    const priors = names.priorsOf(words('Buffalo'))!;
    expect(priors.get(1)! / priors.get(0)!).toBeCloseTo(0.25 / ((0.5 * 4001) / 20001), 6);
    expect(priors.get(3)! / priors.get(2)!).toBeCloseTo((0.05 * 3133) / (0.25 * 38), 6);
  });

  it('names an entry by the longest leading words of its title that are another title', () => {
    expect(named('Japan')).toEqual(['Japan', 'Japan national football team']);
    expect(named('Sabres')).toEqual(['Buffalo Sabres']); // the last name: one entry, unscaled
    // leading words that are only another entry's qualifier-less title count too
    const noCity = AliasTable.fromPassages([
      { id: 'Buffalo, Illinois', title: 'Buffalo, Illinois', text: 'x' },
      { id: 'Buffalo Sabres', title: 'Buffalo Sabres', text: 'x' },
      { id: 'Anaheim Ducks', title: 'Anaheim Ducks', text: 'x' },
    ]);
    expect(noCity.rowsNamedIn(words('Buffalo'), 5)).toEqual([0, 1]);
    expect(noCity.rowsNamedIn(words('Anaheim'), 5)).toEqual([]);
  });

  it('without any popularity, priors are as before (the exponent has nothing to scale)', () => {
    const plain = AliasTable.fromPassages(kb.map(({ popularity: _drop, ...rest }) => rest));
    const priors = plain.priorsOf(words('Buffalo'))!;
    expect(priors.get(0)! / priors.get(1)!).toBeCloseTo(2, 6);
    expect(priors.get(1)! / priors.get(3)!).toBeCloseTo(5, 6);
  });
});

describe('passage popularity', () => {
  const parse = (line: string): Passage => parsePassage(line, 'kb.jsonl:7', new Map(), 7);

  it('reads a number >= 0, absent when missing or null', () => {
    expect(parse('{"id": "a", "title": "A", "popularity": 3132}').popularity).toBe(3132);
    expect(parse('{"id": "a", "title": "A", "popularity": null}').popularity).toBeUndefined();
    expect(parse('{"id": "a", "title": "A"}')).toEqual({ id: 'a', title: 'A', text: 'A' });
  });

  it('rejects anything else with the line and the allowed values', () => {
    for (const bad of ['-1', '"12"', 'true', '[1]']) {
      expect(() => parse(`{"id": "a", "title": "A", "popularity": ${bad}}`)).toThrow(/"popularity" must be a number >= 0 when present.*kb\.jsonl:7/s);
    }
  });
});

describe('document names', () => {
  const kb: Passage[] = [
    { id: 'Washington, D.C.', title: 'Washington, D.C.', text: 'x', aliases: [{ text: 'Washington', count: 20 }] },
    { id: 'MaliVai Washington', title: 'MaliVai Washington', text: 'x' },
    { id: 'Glenn Hoddle', title: 'Glenn Hoddle', text: 'x' },
  ];
  const names = AliasTable.fromPassages(kb);

  it('a full name in the document lends its last word to its entry, for that document only', () => {
    const doc = words('MaliVai Washington beat Glenn Hoddle . Later Washington and Hoddle met in Washington .');
    const local = names.documentNames(doc);
    expect([...local.keys()].sort()).toEqual(['hoddle', 'washington']);
    // "Washington": 20 sightings for the city, the document's 5 for the player (plus the player's KB last name 0.1).
    const priors = names.priorsOf(words('Washington'), local)!;
    expect(ids_([...priors.keys()])).toEqual(['Washington, D.C.', 'MaliVai Washington']);
    expect(priors.get(1)).toBeCloseTo(5 / 25, 10);
    expect(names.priorsOf(words('Washington'))!.get(1)).toBeCloseTo(0.1 / 20.1, 10);
    expect(ids_(names.rowsNamedIn(words('Hoddle said'), 5, local))).toEqual(['Glenn Hoddle']);
    // No full name, no document names.
    expect(names.documentNames(words('Washington said so .')).size).toBe(0);
  });

  const ids_ = (rows: readonly number[]): string[] => rows.map((r) => kb[r]!.id);
});
