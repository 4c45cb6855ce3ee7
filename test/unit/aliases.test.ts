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
