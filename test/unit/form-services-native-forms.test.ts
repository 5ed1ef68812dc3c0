import { describe, expect, it } from 'vitest';
import type { FormConfig } from '../../src/core/config/config.schema.js';
import { parseConfig } from '../../src/core/config/load-config.js';
import { embedScript } from '../../src/connectors/forms/embed.js';
import { consentGiven, formSubmissionToRecord, type FormFields } from '../../src/connectors/forms/form.mapping.js';

const form: FormConfig = {
  id: 'callback',
  fields: { name: 'fullName', phone: 'phone', company: 'company' },
  honeypot: 'website',
  corsOrigins: [],
  consent: { field: 'agree', policy: 'https://www.example.ru/privacy' },
};
const AT = '2026-11-20T10:00:00.000Z';

describe('consent on a native form', () => {
  it('fills traits and records the consent with its time and source when the box is ticked', () => {
    const record = formSubmissionToRecord(form, { name: 'Анна', phone: '+7 903 555 00 01', company: 'ООО Ромашка', agree: 'on' }, 'k1', AT);
    expect(record.traits).toEqual({
      fullName: 'Анна',
      company: 'ООО Ромашка',
      personalDataConsent: { granted: true, at: AT, source: 'web-form', formId: 'callback', field: 'agree', policy: 'https://www.example.ru/privacy' },
    });
    expect(record.interaction?.data).toEqual({ formId: 'callback', fields: {}, consent: { granted: true } });
  });

  it('stores the interaction on the phone’s profile without traits when the box is not ticked', () => {
    const unticked: FormFields[] = [{}, { agree: '' }, { agree: 'no' }, { agree: ['', ' '] }];
    for (const fields of unticked) {
      const record = formSubmissionToRecord(form, { name: 'Анна', phone: '+7 903 555 00 01', company: 'ООО Ромашка', ...fields }, 'k2', AT);
      expect(record.identifiers).toEqual({ phones: ['+7 903 555 00 01'] });
      expect(record.traits).toEqual({ personalDataConsent: { granted: false, at: AT, source: 'web-form', formId: 'callback', field: 'agree', policy: 'https://www.example.ru/privacy' } });
      expect(record.interaction?.body).toBe('name: Анна\ncompany: ООО Ромашка');
      expect(record.interaction?.data).toEqual({ formId: 'callback', fields: { name: 'Анна', company: 'ООО Ромашка' }, consent: { granted: false } });
    }
  });

  it('reads yes and no the way checkboxes and yes/no questions post them', () => {
    for (const yes of ['on', 'yes', 'true', '1', 'Да', 'Согласен на обработку персональных данных', true, 1, ['', 'on']]) expect(consentGiven(yes)).toBe(true);
    for (const no of [undefined, null, '', ' ', 'no', 'No', 'false', '0', 'off', 'нет', 'Не согласен', false, 0, [], [''], {}]) expect(consentGiven(no)).toBe(false);
  });

  it('accepts a consent setting in the config and refuses one without a field', () => {
    const config = parseConfig({ forms: [{ id: 'f', consent: { field: 'agree' } }] });
    expect(config.forms[0]?.consent).toEqual({ field: 'agree' });
    expect(() => parseConfig({ forms: [{ id: 'f', consent: {} }] })).toThrow(/\/forms\/0\/consent/);
    expect(() => parseConfig({ forms: [{ id: 'f', consent: { field: 'agree', trait: 'x' } }] })).toThrow(/trait/);
  });
});

describe('embed.js', () => {
  it('is one self-contained script with the form’s id and honeypot, safe to inline', () => {
    const script = embedScript({ id: 'site-contact', honeypot: '</script><b>' });
    expect(() => new Function(script)).not.toThrow();
    expect(script).toContain('"formId":"site-contact"');
    expect(script).not.toContain('</script>');
    expect(script).toContain('\\u003c/script>');
    expect(script).not.toMatch(/preventDefault|import |require\(/);
    expect(script).toContain('keepalive: true');
  });

  it('carries no honeypot when the form has none', () => {
    const script = embedScript({ id: 'plain' });
    expect(script).toContain('"honeypot":null');
    expect(() => new Function(script)).not.toThrow();
  });
});
