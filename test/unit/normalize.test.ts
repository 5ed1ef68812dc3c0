import { describe, expect, it } from 'vitest';
import { externalId, normalizeEmail, normalizeLookup, normalizePhone, recordIdentifiers } from '../../src/core/identity/normalize.js';
import type { HubRecord } from '../../src/core/record.schema.js';

const RU = { defaultCountry: 'RU', emailRules: [] };

describe('normalizeEmail', () => {
  it('trims and lowercases', () => {
    expect(normalizeEmail('  Ivan.Petrov@Example.COM ')).toBe('ivan.petrov@example.com');
    expect(normalizeEmail('mailto:Ivan@example.com')).toBe('ivan@example.com');
    expect(normalizeEmail('ivan@example.com.')).toBe('ivan@example.com');
  });

  it('turns an internationalized domain into punycode and keeps the Unicode local part', () => {
    expect(normalizeEmail('иван@пример.рф')).toBe('иван@xn--e1afmkfd.xn--p1ai');
    expect(normalizeEmail('Иван@ПРИМЕР.РФ')).toBe('иван@xn--e1afmkfd.xn--p1ai');
    expect(normalizeEmail('ivan@xn--e1afmkfd.xn--p1ai')).toBe('ivan@xn--e1afmkfd.xn--p1ai');
  });

  it.each(['', '   ', 'not-an-email', '@example.com', 'ivan@', 'ivan@localhost', 'ivan petrov@example.com', 'ivan@exa mple.com', 'ivan@example.com@other.org', 'ivan@.com', 'ivan@example..com'])(
    'answers null for %j',
    (raw) => {
      expect(normalizeEmail(raw)).toBeNull();
    },
  );
});

describe('normalizePhone', () => {
  it.each(['8 (916) 123-45-67', '+7 916 123 45 67', '89161234567', '+7(916)123-45-67', ' 8-916-123-45-67 '])('reads %j as +79161234567 with RU as default country', (raw) => {
    expect(normalizePhone(raw, 'RU')).toBe('+79161234567');
  });

  it('keeps a number written with another country code', () => {
    expect(normalizePhone('+1 (415) 555-2671', 'RU')).toBe('+14155552671');
    expect(normalizePhone('+49 30 1234567', 'RU')).toBe('+49301234567');
  });

  it('reads a national number in the default country', () => {
    expect(normalizePhone('030 1234567', 'DE')).toBe('+49301234567');
    expect(normalizePhone('(415) 555-2671', 'US')).toBe('+14155552671');
  });

  it.each(['', 'abc', 'call me', '12', '+7 916', 'call me at +7 916 123 45 67'])('answers null for %j', (raw) => {
    expect(normalizePhone(raw, 'RU')).toBeNull();
  });
});

describe('recordIdentifiers', () => {
  const base = { source: 'erp', sourceId: 'C-001' } as const;

  it('gives a contact the externalId source:sourceId, and an interaction none', () => {
    expect(recordIdentifiers({ ...base, kind: 'contact' }, RU)).toEqual([{ type: 'externalId', value: 'erp:C-001' }]);
    expect(recordIdentifiers({ ...base, kind: 'interaction', interaction: { channel: 'call' } }, RU)).toEqual([]);
  });

  it('normalizes emails and phones, maps ids to system:id and removes duplicates', () => {
    const record: HubRecord = {
      ...base,
      kind: 'interaction',
      identifiers: {
        emails: ['Ivan@Example.com', ' ivan@example.COM ', 'not-an-email'],
        phones: ['8 (916) 123-45-67', '+79161234567', 'garbage'],
        ids: { '1c': ' 000123 ', crm: 'A-9' },
      },
    };
    expect(recordIdentifiers(record, RU)).toEqual([
      { type: 'email', value: 'ivan@example.com' },
      { type: 'phone', value: '+79161234567' },
      { type: 'externalId', value: '1c:000123' },
      { type: 'externalId', value: 'crm:A-9' },
    ]);
  });

  it('does not repeat the contact externalId when ids names the same one', () => {
    const ids = recordIdentifiers({ ...base, kind: 'contact', identifiers: { ids: { erp: 'C-001' } } }, RU);
    expect(ids).toEqual([{ type: 'externalId', value: 'erp:C-001' }]);
  });

  it('ignores a blank id, which would otherwise link unrelated people', () => {
    const ids = recordIdentifiers({ ...base, kind: 'interaction', identifiers: { ids: { '1c': '   ' } } }, RU);
    expect(ids).toEqual([]);
  });

  it('uses the default country for phones', () => {
    expect(recordIdentifiers({ ...base, kind: 'interaction', identifiers: { phones: ['030 1234567'] } }, { defaultCountry: 'DE', emailRules: [] })).toEqual([{ type: 'phone', value: '+49301234567' }]);
  });
});

describe('normalizeLookup', () => {
  it('normalizes a query value like an ingested one', () => {
    expect(normalizeLookup('email', ' IVAN@Example.com', RU)).toBe('ivan@example.com');
    expect(normalizeLookup('phone', '8 916 123 45 67', RU)).toBe('+79161234567');
    expect(normalizeLookup('externalId', 'erp:C-001', RU)).toBe(externalId('erp', 'C-001'));
    expect(normalizeLookup('externalId', 'erp: C-001 ', RU)).toBe('erp:C-001');
    expect(normalizeLookup('externalId', 'bitrix:deal:42', RU)).toBe('bitrix:deal:42');
  });

  it.each([
    ['email', 'nope'],
    ['phone', 'nope'],
    ['externalId', 'no-colon'],
    ['externalId', ':C-001'],
    ['externalId', 'erp:'],
    ['externalId', 'erp:   '],
  ] as const)('answers null for %s %j', (type, raw) => {
    expect(normalizeLookup(type, raw, RU)).toBeNull();
  });
});
