import { describe, expect, it } from 'vitest';
import { matchableFeatures, matchFeatures, phonetic } from '../../src/core/identity/match/features.js';
import { fieldLevel, scorePair } from '../../src/core/identity/match/compare.js';
import { DEFAULT_RULES } from '../../src/core/identity/match/defaults.js';
import { fold } from '../../src/core/identity/text.js';
import type { Identifier } from '../../src/core/identity/normalize.js';

const FIELDS = DEFAULT_RULES.fields;

function features(traits: Record<string, unknown>, ids: Identifier[] = []) {
  return matchFeatures(traits, ids, FIELDS);
}

function score(a: Record<string, unknown>, b: Record<string, unknown>, idsA: Identifier[] = [], idsB: Identifier[] = []) {
  return scorePair(features(a, idsA), features(b, idsB), DEFAULT_RULES);
}

const email = (value: string): Identifier => ({ type: 'email', value });
const phone = (value: string): Identifier => ({ type: 'phone', value });

describe('matchFeatures', () => {
  it('folds names and normalizes compared traits from a 1C-style record', () => {
    const f = features(
      { lastName: 'Щукин', firstName: 'Пётр', middleName: 'Алексеевич', birthDate: '03.02.1980', postcode: '119 019', city: 'Москва', company: 'ООО «Ромашка»', notes: 'VIP' },
      [email('shchukin@mail.ru'), phone('+79161234567'), { type: 'externalId', value: '1c:000123' }],
    );
    expect(f).toEqual({
      given: ['petr', 'alekseevich'],
      family: ['shchukin'],
      anyName: [],
      fields: { birthDate: '1980-02-03', postcode: '119019', city: 'moskva', company: 'romashka' },
      emails: ['shchukin@mail.ru'],
      phones: ['+79161234567'],
    });
  });

  it('uses fullName only when there is no first or last name', () => {
    expect(features({ fullName: 'John Smith' }).anyName).toEqual(['john', 'smith']);
    expect(features({ name: 'Иванов Иван' }).anyName).toEqual(['ivanov', 'ivan']);
    expect(features({ fullName: 'John Smith', lastName: 'Smith' }).anyName).toEqual([]);
  });

  it('leaves out traits that do not normalize (an invalid date, a legal form alone)', () => {
    expect(features({ birthDate: '31.02.1990', company: 'ООО', city: ' ' }).fields).toEqual({});
  });

  it('matchableFeatures: null for a record with no name and no compared trait', () => {
    expect(matchableFeatures({ subject: 'Call about order 42' }, [phone('+79161234567')], FIELDS)).toBeNull();
    expect(matchableFeatures({}, [], FIELDS)).toBeNull();
    expect(matchableFeatures({ city: 'Boston' }, [], FIELDS)?.fields).toEqual({ city: 'boston' });
    expect(matchableFeatures({ fullName: 'Jane Doe' }, [], FIELDS)?.anyName).toEqual(['jane', 'doe']);
  });
});

describe('phonetic', () => {
  it('gives Иванов, Ivanov and Ivanoff one code', () => {
    expect(phonetic(fold('Иванов'))).toBe('AFNF');
    expect(phonetic('ivanov')).toBe('AFNF');
    expect(phonetic('ivanoff')).toBe('AFNF');
  });

  it('gives Пётр, Pyotr and Petr one code, Щукин and Shchukin one code', () => {
    expect(new Set([phonetic(fold('Пётр')), phonetic('pyotr'), phonetic('petr')]).size).toBe(1);
    expect(phonetic(fold('Щукин'))).toBe(phonetic('shchukin'));
  });

  it('gives Smith and Smyth one code, and tells Petrov from Sidorov', () => {
    expect(phonetic('smith')).toBe(phonetic('smyth'));
    expect(phonetic('petrov')).not.toBe(phonetic('sidorov'));
  });
});

describe('fieldLevel', () => {
  it('dates: exact, day and month swapped, one digit mistyped, same year, different', () => {
    expect(fieldLevel('date', '1980-02-03', '1980-02-03')).toBe('exact');
    expect(fieldLevel('date', '1980-02-03', '1980-03-02')).toBe('close');
    expect(fieldLevel('date', '1980-02-03', '1980-02-08')).toBe('close');
    expect(fieldLevel('date', '1980-02-13', '1980-02-31')).toBe('close');
    expect(fieldLevel('date', '1980-02-03', '1980-07-19')).toBe('weak');
    expect(fieldLevel('date', '1980-02-03', '1975-07-19')).toBe('diff');
  });

  it('codes: one transposition or one wrong character is close, a different length is diff', () => {
    expect(fieldLevel('code', '119019', '119019')).toBe('exact');
    expect(fieldLevel('code', '119019', '119091')).toBe('close');
    expect(fieldLevel('code', '10001', '10002')).toBe('close');
    expect(fieldLevel('code', '119019', '191019')).toBe('close');
    expect(fieldLevel('code', '119019', '190191')).toBe('diff');
    expect(fieldLevel('code', '10001', '100010')).toBe('diff');
  });

  it('text: the same words in any order are exact, a typo is close, another value diff', () => {
    expect(fieldLevel('text', 'moskva', 'moskva')).toBe('exact');
    expect(fieldLevel('text', 'ul lenina 5', 'lenina ul 5')).toBe('exact');
    expect(fieldLevel('text', 'moskva', 'moskwa')).toBe('close');
    expect(fieldLevel('text', 'moskva', 'sankt peterburg')).toBe('diff');
  });

  it('text: house numbers more than one keystroke apart are two houses, however alike the street', () => {
    const level = (a: string, b: string) => fieldLevel('text', fold(a), fold(b));
    expect(level('ул. Ленина, д. 12', 'ул. Ленина, д. 48')).toBe('diff');
    expect(level('291 Main Drive', '217 Main Drive')).toBe('diff');
    // One keystroke: a digit swapped, dropped, doubled or mistyped is still a typo of one house.
    expect(level('ул. Ленина, д. 12', 'ул. Ленина, д. 21')).toBe('close');
    expect(level('ул. Ленина, д. 12', 'ул Ленина 112')).toBe('close');
    expect(level('188 Bridge Road', '184 Bridge Road')).toBe('close');
    // The flat after the house does not count against it; a street typo with the same number is close.
    expect(level('ул. Ленина, д. 12', 'ул. Ленина, д. 12, кв. 5')).toBe('close');
    expect(level('12 Baker Street', '12 Bakre Street')).toBe('close');
  });
});

describe('scorePair: names', () => {
  it('Пётр Щукин = Pyotr Shchukin = Petr Shchukin (transliteration)', () => {
    const cyr = { firstName: 'Пётр', lastName: 'Щукин' };
    expect(score(cyr, { firstName: 'Petr', lastName: 'Shchukin' })).toEqual({ vetoed: false, score: 14, agreements: 2, disagreements: 0, identifyingCompared: 0, reasons: ['firstName exact', 'lastName exact'] });
    expect(score(cyr, { firstName: 'Pyotr', lastName: 'Shchukin' })).toEqual({ vetoed: false, score: 11, agreements: 2, disagreements: 0, identifyingCompared: 0, reasons: ['firstName close', 'lastName exact'] });
  });

  it('Юлия = Yuliya exactly; Иванов and Ivanoff are close by sound', () => {
    expect(score({ firstName: 'Юлия' }, { firstName: 'Yuliya' }).reasons).toEqual(['firstName exact']);
    expect(score({ lastName: 'Иванов' }, { lastName: 'Ivanoff' })).toMatchObject({ score: 4, reasons: ['lastName close'] });
  });

  it('swapped first and last names count as close, not exact', () => {
    expect(score({ firstName: 'Ivan', lastName: 'Petrov' }, { firstName: 'Petrov', lastName: 'Ivan' })).toEqual({ vetoed: false,
      score: 7,
      agreements: 2, disagreements: 0,
      identifyingCompared: 0,
      reasons: ['firstName close', 'lastName close'],
    });
  });

  it('an initial is weak evidence, not an agreement', () => {
    expect(score({ firstName: 'I.', lastName: 'Petrov' }, { firstName: 'Ivan', lastName: 'Petrov' })).toEqual({ vetoed: false,
      score: 9,
      agreements: 1, disagreements: 0,
      identifyingCompared: 0,
      reasons: ['firstName weak', 'lastName exact'],
    });
    expect(score({ firstName: 'I.' }, { firstName: 'Olga' }).reasons).toEqual(['firstName diff']);
  });

  it('two slips make a name close only when its first letter is kept', () => {
    // Sidorova and Fedorova are two families, two letters apart.
    expect(score({ lastName: 'Сидорова' }, { lastName: 'Федорова' }).reasons).toEqual(['lastName diff']);
    expect(score({ lastName: 'Lebedeva' }, { lastName: 'Nebedeve' }).reasons).toEqual(['lastName diff']);
    // Two letters dropped from a long name, first letter kept: a hurried operator.
    expect(score({ lastName: 'Александрова' }, { lastName: 'Aleksndrva' }).reasons).toEqual(['lastName close']);
    // One slip is close wherever it is.
    expect(score({ firstName: 'Никитина' }, { firstName: 'Микитина' }).reasons).toEqual(['firstName close']);
  });

  it('scrambled letters and names run together are close', () => {
    expect(score({ firstName: 'Theodore', lastName: 'Smith' }, { firstName: 'Theodroe', lastName: 'Smith' }).reasons).toEqual(['firstName close', 'lastName exact']);
    expect(score({ firstName: 'Mary Ann', lastName: 'Smith' }, { firstName: 'Maryann', lastName: 'Smith' }).reasons).toEqual(['firstName close', 'lastName exact']);
  });

  it('different people score below zero', () => {
    expect(score({ firstName: 'John', lastName: 'Smith' }, { firstName: 'Robert', lastName: 'Jones' })).toEqual({ vetoed: false,
      score: -9,
      agreements: 0, disagreements: 2,
      identifyingCompared: 0,
      reasons: ['firstName diff', 'lastName diff'],
    });
  });

  it('a fullName against a first/last name compares the words in any order', () => {
    expect(score({ fullName: 'Петров Иван' }, { fullName: 'Ivan Petrov' })).toEqual({ vetoed: false, score: 8, agreements: 1, disagreements: 0, identifyingCompared: 0, reasons: ['name exact'] });
    expect(score({ fullName: 'Петров Иван' }, { firstName: 'Ivan', lastName: 'Petrov' }).reasons).toEqual(['name exact']);
  });

  it('compares nothing when one side has no name', () => {
    expect(score({ firstName: 'Ivan' }, { city: 'Москва' })).toEqual({ vetoed: false, score: 0, agreements: 0, disagreements: 0, identifyingCompared: 0, reasons: [] });
  });
});

describe('scorePair: identifiers and fields', () => {
  it('an email local part at another domain is close; the same address exact; another diff', () => {
    expect(score({}, {}, [email('ivan.petrov@mail.ru')], [email('ivan.petrov@gmail.com')])).toMatchObject({ score: 5, agreements: 1, reasons: ['email close'] });
    expect(score({}, {}, [email('ivan.petrov@mail.ru')], [email('ivan.petrov@mail.ru')])).toMatchObject({ score: 14, reasons: ['email exact'] });
    expect(score({}, {}, [email('ivan.petrov@mail.ru')], [email('olga@mail.ru')])).toMatchObject({ score: -1, agreements: 0, reasons: ['email diff'] });
  });

  it('phones are exact or diff', () => {
    expect(score({}, {}, [phone('+79161234567')], [phone('+79161234567')]).reasons).toEqual(['phone exact']);
    expect(score({}, {}, [phone('+79161234567')], [phone('+79161234568')]).reasons).toEqual(['phone diff']);
  });

  it('a Russian CRM record against its transliterated copy: sums weights and counts agreements and identifying fields', () => {
    const s = score(
      { firstName: 'Пётр', lastName: 'Щукин', birthDate: '03.02.1980', postcode: '119019', company: 'ООО «Ромашка»' },
      { firstName: 'Pyotr', lastName: 'Shchukin', birthDate: '1980-02-03', postcode: '119091', company: 'Romashka LLC' },
      [],
      [phone('+79161234567')],
    );
    expect(s).toEqual({ vetoed: false,
      // close 3 + exact 8 + birthDate exact 12 + postcode close 2 + company exact 4; a phone on one side only adds nothing
      score: 29,
      agreements: 5, disagreements: 0,
      identifyingCompared: 1,
      reasons: ['firstName close', 'lastName exact', 'birthDate exact', 'postcode close', 'company exact'],
    });
  });

  it('US data: a birth date with day and month swapped and an address written in another order', () => {
    const s = score(
      { firstName: 'Jennifer', lastName: 'Lopez', birthDate: '07/24/1969', address: '12 Main Street', state: 'NY' },
      { firstName: 'Jennifer', lastName: 'Lopez', birthDate: '1969-07-24', address: 'Main Street 12', state: 'ny' },
    );
    expect(s).toEqual({ vetoed: false, score: 37, agreements: 5, disagreements: 0, identifyingCompared: 2, reasons: ['firstName exact', 'lastName exact', 'birthDate exact', 'address exact', 'state exact'] });
    const swapped = score({ lastName: 'Lopez', birthDate: '1969-07-04' }, { lastName: 'Lopez', birthDate: '1969-04-07' });
    expect(swapped.reasons).toEqual(['lastName exact', 'birthDate close']);
    expect(swapped.score).toBe(13);
  });

  it('namesakes with different birth dates score low and count the birth date as compared', () => {
    const s = score({ firstName: 'Иван', lastName: 'Иванов', birthDate: '1980-02-03' }, { firstName: 'Ivan', lastName: 'Ivanov', birthDate: '1975-07-19' });
    expect(s).toEqual({ vetoed: false, score: 6, agreements: 2, disagreements: 1, identifyingCompared: 1, reasons: ['firstName exact', 'lastName exact', 'birthDate diff'] });
  });

  it('a national id with one transposition is close and identifying', () => {
    const s = score({ nationalId: '123-456-789 01' }, { nationalId: '12345678910' });
    expect(s).toEqual({ vetoed: false, score: 8, agreements: 1, disagreements: 0, identifyingCompared: 1, reasons: ['nationalId close'] });
  });
});

describe('scorePair: vetoes', () => {
  const rules = {
    ...DEFAULT_RULES,
    fields: DEFAULT_RULES.fields.map((f) => (f.trait === 'birthDate' ? { ...f, veto: true } : f)),
  };
  const father = { firstName: 'John', lastName: 'Smith', birthDate: '1948-03-10', address: '12 Oak Street', postcode: '2000' };
  const son = { ...father, birthDate: '1975-06-01' };
  const features = (traits: Record<string, string>) => matchFeatures(traits, [], rules.fields);

  it('a plain birth-date disagreement on a veto field rules out the merge however much else agrees', () => {
    const s = scorePair(features(father), features(son), rules);
    expect(s.score).toBeGreaterThanOrEqual(8);
    expect(s.vetoed).toBe(true);
    expect(scorePair(features(father), features({ ...father, birthDate: '1948-10-03' }), rules).vetoed).toBe(false);
  });

  it('an exact decisive id lifts the veto', () => {
    expect(scorePair(features({ ...father, nationalId: '4440480' }), features({ ...son, nationalId: '4440480' }), rules).vetoed).toBe(false);
  });

  it('is off by default', () => {
    expect(scorePair(matchFeatures(father, [], DEFAULT_RULES.fields), matchFeatures(son, [], DEFAULT_RULES.fields), DEFAULT_RULES).vetoed).toBe(false);
  });
});
