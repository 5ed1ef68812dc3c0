import { describe, expect, it } from 'vitest';
import { normalizeDate } from '../../src/core/identity/dates.js';

describe('normalizeDate', () => {
  it.each([
    ['1980-02-03', 'ISO'],
    ['1980-2-3', 'ISO without leading zeros'],
    ['1980-02-03T00:00:00Z', 'ISO date-time (1C and Bitrix exports)'],
    ['1980-02-03 12:30:00', 'SQL date-time'],
    ['19800203', 'compact YYYYMMDD'],
    ['1980/02/03', 'year first with slashes'],
    ['1980.02.03', 'year first with dots'],
    ['03.02.1980', 'Russian and German day-first with dots'],
    ['3.2.1980', 'dots without leading zeros'],
    ['03-02-1980', 'day-first with dashes'],
    ['03/02/1980', 'slashes, read day-first'],
    ['3 февраля 1980', 'Russian month name in the genitive'],
    ['3 Февраля 1980', 'Russian month name capitalized'],
    ['3 фев 1980', 'Russian month abbreviation'],
    ['3 Feb 1980', 'English month abbreviation, day first'],
    ['3 February 1980', 'English month name, day first'],
    ['February 3, 1980', 'US month name first'],
    ['Feb. 3, 1980', 'US abbreviation with a dot'],
    ['  03.02.1980  ', 'surrounding spaces'],
  ])('reads %j (%s) as 1980-02-03', (raw) => {
    expect(normalizeDate(raw)).toBe('1980-02-03');
  });

  it.each([
    ['1 января 1990', '1990-01-01'],
    ['1 марта 1999', '1999-03-01'],
    ['3 мая 1980', '1980-05-03'],
    ['15 сентября 2001', '2001-09-15'],
    ['31 декабря 1975', '1975-12-31'],
    ['7 ноября 1917', '1917-11-07'],
  ])('reads the Russian date %j as %s', (raw, iso) => {
    expect(normalizeDate(raw)).toBe(iso);
  });

  it('drops the Russian year mark "г." or "года" after the year', () => {
    expect(normalizeDate('3 февраля 1980 г.')).toBe('1980-02-03');
    expect(normalizeDate('03.02.1980 г.')).toBe('1980-02-03');
    expect(normalizeDate('03.02.1980г')).toBe('1980-02-03');
    expect(normalizeDate('3 февраля 1980 года')).toBe('1980-02-03');
    expect(normalizeDate('г.')).toBeNull();
  });

  it('ignores the time after a day-first date, as 1C and Excel export it', () => {
    expect(normalizeDate('03.02.1980 0:00:00')).toBe('1980-02-03');
    expect(normalizeDate('03.02.1980 12:00')).toBe('1980-02-03');
    expect(normalizeDate('12/31/1980 00:00:00')).toBe('1980-12-31');
    expect(normalizeDate('03.02.1980 soon')).toBeNull();
  });

  it('reads slashes month-first when the second number cannot be a month (US)', () => {
    expect(normalizeDate('12/31/1980')).toBe('1980-12-31');
    expect(normalizeDate('02/13/1980')).toBe('1980-02-13');
  });

  it('reads ambiguous slashes day-first', () => {
    expect(normalizeDate('02/03/1980')).toBe('1980-03-02');
  });

  it('never reads dots month-first: 12.31.1980 is no date', () => {
    expect(normalizeDate('12.31.1980')).toBeNull();
  });

  it('puts two-digit years in the century that keeps a birth date in the past', () => {
    expect(normalizeDate('03.02.80')).toBe('1980-02-03');
    expect(normalizeDate('03.02.15')).toBe('2015-02-03');
    expect(normalizeDate('03.02.99')).toBe('1999-02-03');
    const nextYear = String((new Date().getUTCFullYear() + 1) % 100).padStart(2, '0');
    expect(normalizeDate(`01.01.${nextYear}`)).toBe(`19${nextYear}-01-01`);
  });

  it('accepts 29 February only in leap years', () => {
    expect(normalizeDate('29.02.2000')).toBe('2000-02-29');
    expect(normalizeDate('29.02.1984')).toBe('1984-02-29');
    expect(normalizeDate('29.02.1900')).toBeNull();
    expect(normalizeDate('29.02.1981')).toBeNull();
  });

  it.each([
    '31.02.1990',
    '31.04.1990',
    '30 февраля 1990',
    '1990-13-01',
    '1990-00-10',
    '00.01.1980',
    '13/13/1980',
    '19901301',
    '1800-01-01',
    '2300-01-01',
    '3 Foo 1980',
    '3 Smarch 1980',
    'yesterday',
    '1980',
    '03.02',
    '',
    '03.02-1980',
  ])('answers null for %j', (raw) => {
    expect(normalizeDate(raw)).toBeNull();
  });
});
