import { describe, expect, it } from 'vitest';
import type { FormConfig } from '../../src/core/config/config.schema.js';
import { DEFAULT_FORM_SOURCE, formSubmissionToRecord, isBot } from '../../src/connectors/forms/form.mapping.js';

const contactForm: FormConfig = {
  id: 'contact',
  source: 'site',
  fields: { name: 'fullName', email: 'email', phone: 'phone', customer: 'externalId', topic: 'subject', message: 'body', company: 'company' },
  honeypot: 'website',
  corsOrigins: [],
};

describe('formSubmissionToRecord', () => {
  it('maps configured fields to identifiers, traits, subject and body of an inbound form interaction', () => {
    const record = formSubmissionToRecord(
      contactForm,
      {
        name: 'Иван Петров',
        email: 'Ivan.Petrov@Example.com',
        phone: '8 (916) 123-45-67',
        customer: 'erp:C-001',
        topic: 'Заявка на расчёт',
        message: 'Перезвоните после обеда',
        company: 'ООО Ромашка',
      },
      'sub-1',
    );
    expect(record).toEqual({
      source: 'site',
      sourceId: 'contact/sub-1',
      kind: 'interaction',
      identifiers: { emails: ['Ivan.Petrov@Example.com'], phones: ['8 (916) 123-45-67'], ids: { erp: 'C-001' } },
      traits: { fullName: 'Иван Петров', company: 'ООО Ромашка' },
      interaction: {
        channel: 'form',
        direction: 'inbound',
        subject: 'Заявка на расчёт',
        body: 'Перезвоните после обеда',
        data: { formId: 'contact', fields: {} },
      },
    });
  });

  it('uses the default source and a subject naming the form when none is configured or posted', () => {
    const record = formSubmissionToRecord({ id: 'bare', fields: {}, corsOrigins: [] }, {}, 'x');
    expect(record.source).toBe(DEFAULT_FORM_SOURCE);
    expect(record.sourceId).toBe('bare/x');
    expect(record.identifiers).toEqual({});
    expect(record.traits).toEqual({});
    expect(record.interaction).toEqual({ channel: 'form', direction: 'inbound', subject: 'Form bare', data: { formId: 'bare', fields: {} } });
  });

  it('keeps every unmapped field in the body, after the mapped body, and in data.fields', () => {
    const record = formSubmissionToRecord(contactForm, { message: 'Нужна доставка', comment: 'Перезвоните после обеда', city: 'Тверь' }, 's');
    expect(record.interaction?.body).toBe('Нужна доставка\ncomment: Перезвоните после обеда\ncity: Тверь');
    expect(record.interaction?.data).toEqual({ formId: 'contact', fields: { comment: 'Перезвоните после обеда', city: 'Тверь' } });
    expect(record.traits).toEqual({});
  });

  it('keeps several fields mapped to the body in the order they were posted', () => {
    const form: FormConfig = { id: 'f', fields: { message: 'body', details: 'body' }, corsOrigins: [] };
    const record = formSubmissionToRecord(form, { message: 'first', details: 'second', note: 'third' }, 's');
    expect(record.interaction?.body).toBe('first\nsecond\nnote: third');
  });

  it('joins repeated values (checkboxes) with commas in the body and traits, and keeps the list in data.fields', () => {
    const form: FormConfig = { id: 'f', fields: { products: 'interests' }, corsOrigins: [] };
    const record = formSubmissionToRecord(form, { products: ['Окна', 'Двери'], services: ['доставка', ' монтаж '] }, 's');
    expect(record.traits).toEqual({ interests: 'Окна, Двери' });
    expect(record.interaction?.body).toBe('services: доставка, монтаж');
    expect(record.interaction?.data?.['fields']).toEqual({ services: ['доставка', 'монтаж'] });
  });

  it('takes each value of a repeated email or phone field as its own identifier', () => {
    const record = formSubmissionToRecord(contactForm, { email: ['a@example.com', ' ', 'b@example.com'], phone: ['+7 916 000 00 01', '+7 916 000 00 02'] }, 's');
    expect(record.identifiers).toEqual({ emails: ['a@example.com', 'b@example.com'], phones: ['+7 916 000 00 01', '+7 916 000 00 02'] });
  });

  it('trims values and skips empty or blank fields entirely', () => {
    const record = formSubmissionToRecord(contactForm, { name: '  Анна  ', email: '', phone: '   ', topic: '', comment: ' ', boxes: ['', ' '] }, 's');
    expect(record.identifiers).toEqual({});
    expect(record.traits).toEqual({ fullName: 'Анна' });
    expect(record.interaction?.subject).toBe('Form contact');
    expect(record.interaction).not.toHaveProperty('body');
    expect(record.interaction?.data).toEqual({ formId: 'contact', fields: {} });
  });

  it('treats an externalId value without "system:" as an unmapped field', () => {
    const record = formSubmissionToRecord(contactForm, { customer: 'C-001' }, 's');
    expect(record.identifiers).toEqual({});
    expect(record.interaction?.body).toBe('customer: C-001');
    expect(record.interaction?.data?.['fields']).toEqual({ customer: 'C-001' });
  });

  it('never copies the honeypot field into the record', () => {
    const record = formSubmissionToRecord(contactForm, { website: 'http://spam.example', name: 'Анна' }, 's');
    expect(JSON.stringify(record)).not.toContain('spam.example');
    expect(JSON.stringify(record)).not.toContain('website');
  });

  it('treats field names that are Object.prototype members as ordinary unmapped fields', () => {
    const record = formSubmissionToRecord(contactForm, { constructor: 'a', toString: 'b', hasOwnProperty: 'c' }, 's');
    expect(record.traits).toEqual({});
    expect(record.interaction?.body).toBe('constructor: a\ntoString: b\nhasOwnProperty: c');
    expect(record.interaction?.data?.['fields']).toEqual({ constructor: 'a', toString: 'b', hasOwnProperty: 'c' });
  });

  it('keeps a field named __proto__ as an own field of data.fields, not as its prototype', () => {
    const fields = Object.fromEntries([['__proto__', ['a', 'b']]]) as Record<string, string[]>;
    const record = formSubmissionToRecord(contactForm, fields, 's');
    const kept = record.interaction?.data?.['fields'] as Record<string, unknown>;
    expect(Object.getPrototypeOf(kept)).toBe(Object.prototype);
    expect(Object.hasOwn(kept, '__proto__')).toBe(true);
    expect(JSON.parse(JSON.stringify(kept))).toEqual(JSON.parse('{"__proto__":["a","b"]}'));
    expect(record.interaction?.body).toBe('__proto__: a, b');
  });
});

describe('isBot', () => {
  it('is true when the honeypot field holds any text', () => {
    expect(isBot(contactForm, { website: 'http://spam.example' })).toBe(true);
    expect(isBot(contactForm, { website: ['', 'x'] })).toBe(true);
  });

  it('is false when the honeypot is missing, empty or blank', () => {
    expect(isBot(contactForm, { name: 'Анна' })).toBe(false);
    expect(isBot(contactForm, { website: '' })).toBe(false);
    expect(isBot(contactForm, { website: '  ' })).toBe(false);
    expect(isBot(contactForm, { website: [] })).toBe(false);
  });

  it('is false for every post when the form has no honeypot', () => {
    expect(isBot({ id: 'f', fields: {}, corsOrigins: [] }, { website: 'http://spam.example' })).toBe(false);
  });
});
