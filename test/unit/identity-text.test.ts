import { describe, expect, it } from 'vitest';
import { fold, traitText, words } from '../../src/core/identity/text.js';

describe('fold', () => {
  it.each([
    ['Пётр', 'petr'],
    ['Петр', 'petr'],
    ['ПЁТР', 'petr'],
    ['Щукин', 'shchukin'],
    ['Юлия', 'yuliya'],
    ['Жуков', 'zhukov'],
    ['Чайковский', 'chaykovskiy'],
    ['Ярослав', 'yaroslav'],
  ])('transliterates the Russian name %j to %j', (raw, folded) => {
    expect(fold(raw)).toBe(folded);
  });

  it('reads ё as е, so Фёдоров, Федоров and FEDOROV fold alike', () => {
    expect(fold('Фёдоров')).toBe('fedorov');
    expect(fold('Федоров')).toBe('fedorov');
    expect(fold('FEDOROV')).toBe('fedorov');
    expect(fold('Хрущёв')).toBe(fold('Хрущев'));
  });

  it('applies NFKC first: full-width letters are plain ones', () => {
    expect(fold('ＩＶＡＮ')).toBe('ivan');
  });

  it('drops the marks of Latin letters', () => {
    expect(fold('Müller')).toBe('muller');
    expect(fold('Łukasz')).toBe('lukasz');
    expect(fold('José')).toBe('jose');
  });

  it('turns punctuation and runs of spaces into single spaces and trims', () => {
    expect(fold("O'Brien")).toBe('o brien');
    expect(fold('Ирина-Мария')).toBe('irina mariya');
    expect(fold('  Ольга   Сергеевна  ')).toBe('olga sergeevna');
    expect(fold('Петров И.И.')).toBe('petrov i i');
  });

  it('keeps digits and answers "" for nothing but punctuation', () => {
    expect(fold('ул. Ленина, д. 5')).toBe('ul lenina d 5');
    expect(fold(' -- ')).toBe('');
    expect(fold('')).toBe('');
  });
});

describe('words', () => {
  it('splits the folded value', () => {
    expect(words('Мария Ивановна')).toEqual(['mariya', 'ivanovna']);
    expect(words('Smith-Jones, Mary Ann')).toEqual(['smith', 'jones', 'mary', 'ann']);
  });

  it('answers no words for an empty or punctuation-only value', () => {
    expect(words('')).toEqual([]);
    expect(words(' . ')).toEqual([]);
  });
});

describe('traitText', () => {
  it('trims text and gives finite numbers as text', () => {
    expect(traitText('  Москва ')).toBe('Москва');
    expect(traitText(119019)).toBe('119019');
    expect(traitText(0)).toBe('0');
  });

  it.each([[''], ['   '], [null], [undefined], [Number.NaN], [Number.POSITIVE_INFINITY], [true], [{ city: 'Moscow' }], [['a']]])('answers null for %j', (value) => {
    expect(traitText(value)).toBeNull();
  });
});
