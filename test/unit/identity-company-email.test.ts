import { describe, expect, it } from 'vitest';
import { companyKey } from '../../src/core/identity/company.js';
import { canonicalEmail, type EmailRule } from '../../src/core/identity/email-canonical.js';
import { normalizeLookup, recordIdentifiers } from '../../src/core/identity/normalize.js';
import type { HubRecord } from '../../src/core/record.schema.js';

describe('companyKey', () => {
  it.each(['ООО «Ромашка»', 'ООО "Ромашка"', '"Ромашка", ООО', 'Romashka LLC', 'Romashka, L.L.C.', 'Romashka', 'ROMASHKA Ltd.', 'Общество с ограниченной ответственностью "Ромашка"'])(
    'reduces %j to romashka',
    (raw) => {
      expect(companyKey(raw)).toBe('romashka');
    },
  );

  it('drops Russian legal forms: АО, ПАО, ЗАО, ОАО, ИП', () => {
    expect(companyKey('АО "Газпром"')).toBe('gazprom');
    expect(companyKey('ПАО Сбербанк')).toBe('sberbank');
    expect(companyKey('ЗАО «Вектор»')).toBe('vektor');
    expect(companyKey('ОАО "РЖД"')).toBe('rzhd');
    expect(companyKey('ИП Иванов И.И.')).toBe('ivanov i i');
  });

  it('drops spelled-out legal forms', () => {
    expect(companyKey('Индивидуальный предприниматель Петров')).toBe('petrov');
    expect(companyKey('Акционерное общество «Ромашка»')).toBe('romashka');
    expect(companyKey('Публичное акционерное общество «Ромашка»')).toBe('romashka');
    expect(companyKey('Acme Limited Liability Company')).toBe('acme');
  });

  it('drops European and US legal forms', () => {
    expect(companyKey('Siemens AG')).toBe('siemens');
    expect(companyKey('Müller GmbH')).toBe('muller');
    expect(companyKey('Müller GmbH & Co. KG')).toBe('muller');
    expect(companyKey('Acme, Inc.')).toBe('acme');
    expect(companyKey('Acme Corp.')).toBe('acme');
    expect(companyKey('Kowalski Sp. z o.o.')).toBe('kowalski');
  });

  it('keeps the words that name the company, in order', () => {
    expect(companyKey('Coca-Cola Company')).toBe('coca cola');
    expect(companyKey('ООО «Рога и копыта»')).toBe('roga i kopyta');
    expect(companyKey('Romashka')).not.toBe(companyKey('Vasilek'));
  });

  it('answers null when nothing but a legal form or punctuation is left', () => {
    expect(companyKey('ООО')).toBeNull();
    expect(companyKey('LLC')).toBeNull();
    expect(companyKey('«»')).toBeNull();
    expect(companyKey('')).toBeNull();
  });
});

describe('canonicalEmail', () => {
  const all: EmailRule[] = ['plusTags', 'gmailDots', 'yandexDomains'];

  it('leaves the address unchanged without rules', () => {
    for (const email of ['ivan.petrov+crm@gmail.com', 'ivan-petrov@ya.ru', 'john.smith+news@example.com']) expect(canonicalEmail(email, [])).toBe(email);
  });

  it('plusTags removes the subaddress at any provider, and nothing else', () => {
    expect(canonicalEmail('john.smith+news@example.com', ['plusTags'])).toBe('john.smith@example.com');
    expect(canonicalEmail('ivan+1c@mail.ru', ['plusTags'])).toBe('ivan@mail.ru');
    expect(canonicalEmail('j.smith@googlemail.com', ['plusTags'])).toBe('j.smith@googlemail.com');
    // A local part that starts with "+" has no name before the tag: kept as it is.
    expect(canonicalEmail('+tag@example.com', ['plusTags'])).toBe('+tag@example.com');
  });

  it('gmailDots removes dots at Gmail only and makes googlemail.com gmail.com', () => {
    expect(canonicalEmail('ivan.petrov@gmail.com', ['gmailDots'])).toBe('ivanpetrov@gmail.com');
    expect(canonicalEmail('i.van.pet.rov@googlemail.com', ['gmailDots'])).toBe('ivanpetrov@gmail.com');
    expect(canonicalEmail('ivan.petrov@mail.ru', ['gmailDots'])).toBe('ivan.petrov@mail.ru');
    expect(canonicalEmail('ivan.petrov+x@gmail.com', ['gmailDots'])).toBe('ivanpetrov+x@gmail.com');
  });

  it('yandexDomains makes "-" a "." and every Yandex domain yandex.ru', () => {
    expect(canonicalEmail('ivan-petrov@ya.ru', ['yandexDomains'])).toBe('ivan.petrov@yandex.ru');
    expect(canonicalEmail('ivan.petrov@yandex.com', ['yandexDomains'])).toBe('ivan.petrov@yandex.ru');
    expect(canonicalEmail('ivan-petrov@narod.ru', ['yandexDomains'])).toBe('ivan.petrov@yandex.ru');
    expect(canonicalEmail('ivan-petrov@mail.ru', ['yandexDomains'])).toBe('ivan-petrov@mail.ru');
  });

  it('applies all rules together', () => {
    expect(canonicalEmail('Ivan.Petrov+crm@googlemail.com'.toLowerCase(), all)).toBe('ivanpetrov@gmail.com');
    expect(canonicalEmail('ivan-petrov+shop@yandex.by', all)).toBe('ivan.petrov@yandex.ru');
  });
});

describe('recordIdentifiers and normalizeLookup with emailRules', () => {
  const record: HubRecord = {
    source: 'bitrix',
    sourceId: '1042',
    kind: 'contact',
    identifiers: { emails: ['Ivan.Petrov+CRM@GMAIL.com', 'ivanpetrov@gmail.com', 'ivan-petrov@ya.ru'], phones: ['8 (916) 123-45-67'], ids: { '1c': ' 000123 ' } },
  };

  it('canonicalizes emails with the configured rules, so spellings of one mailbox collapse', () => {
    expect(recordIdentifiers(record, { defaultCountry: 'RU', emailRules: ['plusTags', 'gmailDots', 'yandexDomains'] })).toEqual([
      { type: 'email', value: 'ivanpetrov@gmail.com' },
      { type: 'email', value: 'ivan.petrov@yandex.ru' },
      { type: 'phone', value: '+79161234567' },
      { type: 'externalId', value: '1c:000123' },
      { type: 'externalId', value: 'bitrix:1042' },
    ]);
  });

  it('keeps each spelling without rules', () => {
    expect(recordIdentifiers(record, { defaultCountry: 'RU', emailRules: [] }).filter((i) => i.type === 'email')).toEqual([
      { type: 'email', value: 'ivan.petrov+crm@gmail.com' },
      { type: 'email', value: 'ivanpetrov@gmail.com' },
      { type: 'email', value: 'ivan-petrov@ya.ru' },
    ]);
  });

  it('reads phones without + in the default country', () => {
    const us: HubRecord = { source: 'hubspot', sourceId: '7', kind: 'contact', identifiers: { phones: ['(415) 555-2671'] } };
    expect(recordIdentifiers(us, { defaultCountry: 'US', emailRules: [] })).toContainEqual({ type: 'phone', value: '+14155552671' });
  });

  it('normalizes a lookup with the same rules as ingestion', () => {
    const options = { defaultCountry: 'RU', emailRules: ['plusTags', 'gmailDots'] as EmailRule[] };
    expect(normalizeLookup('email', ' Ivan.Petrov+news@Gmail.com ', options)).toBe('ivanpetrov@gmail.com');
    expect(normalizeLookup('email', 'Ivan.Petrov+news@Gmail.com', { defaultCountry: 'RU', emailRules: [] })).toBe('ivan.petrov+news@gmail.com');
    expect(normalizeLookup('phone', '8-916-123-45-67', options)).toBe('+79161234567');
    expect(normalizeLookup('email', 'not-an-email', options)).toBeNull();
  });
});
