/** Locating CasRel entity strings (WebNLG) in their text: the rule the Python training reader mirrors. */
import { describe, expect, it } from 'vitest';
import { whitespaceWords } from '../../src/data/offsets.js';
import { locateEntity } from '../../src/data/readers/casrel.js';

const locate = (text: string, entity: string) => locateEntity(text, whitespaceWords(text), entity);

describe('locateEntity', () => {
  const text = 'A.C. Cesena , in the Serie B League , is located in Cesena .';

  it('takes the first occurrence on word edges, even inside a longer entity (the trained readers learned this)', () => {
    expect(locate(text, 'Serie B')).toEqual({ start: 21, end: 28, method: 'words' });
    expect(locate(text, 'Cesena')).toEqual({ start: 5, end: 11, method: 'words' });
  });

  it('falls back to a raw substring, then to a case-insensitive match, else null', () => {
    expect(locate('the U.S.-based firm', 'U.S.')?.method).toBe('substring');
    expect(locate('a OSLO b', 'Oslo')).toEqual({ start: 2, end: 6, method: 'case-insensitive' });
    expect(locate(text, 'Bergen')).toBeNull();
    expect(locate(text, '')).toBeNull();
  });
});
