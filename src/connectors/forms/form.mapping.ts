import type { FormConfig } from '../../core/config/config.schema.js';
import type { HubRecord } from '../../core/record.schema.js';

export const DEFAULT_FORM_SOURCE = 'web-form';

/** The trait a form's personal data consent becomes on the profile. */
export const CONSENT_TRAIT = 'personalDataConsent';

/**
 * The consent state as a trait: given or not, when, and where (the record's source, the form, the
 * field, the consent text). The profile's `traitSources` also names the record it came from.
 */
export type ConsentTrait = { granted: boolean; at: string; source: string; formId: string; field: string; policy?: string };

// What a checkbox or a yes/no question posts when it is not ticked, where it posts anything at all.
const REFUSALS = new Set(['', 'no', 'false', '0', 'off', 'n', 'нет', 'не согласен', 'не согласна']);

/** Whether a consent field's value says yes: a ticked box posts "on", "yes", its label or true; an unticked one nothing. */
export function consentGiven(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0;
  if (typeof value === 'string') return !REFUSALS.has(value.trim().toLowerCase());
  if (Array.isArray(value)) return value.some(consentGiven);
  return false;
}

/** A submitted field: repeated names (checkboxes) arrive as arrays. */
export type FormFields = Record<string, string | string[]>;

/** The posted values of a field, trimmed, without the blank ones. */
function values(value: string | string[]): string[] {
  return (Array.isArray(value) ? value : [value]).map((v) => v.trim()).filter((v) => v !== '');
}

/**
 * Turns one form submission into an interaction record (channel `form`). Mapped fields become
 * identifiers, traits, the subject or the body; every field not mapped is kept in the body and,
 * as given (a list stays a list), in `interaction.data.fields`, so nothing the visitor typed is lost.
 * A form with a consent field: without the consent, fields mapped to traits are kept as unmapped
 * fields instead; either way the consent state becomes the `personalDataConsent` trait.
 */
export function formSubmissionToRecord(form: FormConfig, fields: FormFields, submissionId: string, receivedAt: string = new Date().toISOString()): HubRecord {
  const emails: string[] = [];
  const phones: string[] = [];
  const ids: [string, string][] = [];
  const traits: [string, unknown][] = [];
  const unmapped: [string, string | string[]][] = [];
  let subject: string | undefined;
  const bodyParts: string[] = [];

  const consentField = form.consent?.field;
  const granted = consentField === undefined ? true : consentGiven(Object.hasOwn(fields, consentField) ? fields[consentField] : undefined);

  for (const [name, raw] of Object.entries(fields)) {
    if (name === form.honeypot || name === consentField) continue;
    const list = values(raw);
    if (list.length === 0) continue;
    const value = list.join(', ');
    // Own keys only: a posted field named "constructor" or "toString" is not a mapping.
    const target = Object.hasOwn(form.fields, name) ? form.fields[name] : undefined;
    if (target === 'email') emails.push(...list);
    else if (target === 'phone') phones.push(...list);
    else if (target === 'externalId') {
      const colon = value.indexOf(':');
      if (colon > 0) ids.push([value.slice(0, colon), value.slice(colon + 1)]);
      else unmapped.push([name, Array.isArray(raw) ? list : value]);
    } else if (target === 'subject') subject = value;
    else if (target === 'body') bodyParts.push(value);
    else if (target !== undefined && granted) traits.push([target, value]);
    else unmapped.push([name, Array.isArray(raw) ? list : value]);
  }
  for (const [name, value] of unmapped) bodyParts.push(`${name}: ${Array.isArray(value) ? value.join(', ') : value}`);

  const source = form.source ?? DEFAULT_FORM_SOURCE;
  if (form.consent) {
    const consent: ConsentTrait = { granted, at: receivedAt, source, formId: form.id, field: form.consent.field, ...(form.consent.policy ? { policy: form.consent.policy } : {}) };
    traits.push([CONSENT_TRAIT, consent]);
  }
  // Object.fromEntries: a field named "__proto__" becomes an own key, not the object's prototype.
  return {
    source,
    sourceId: `${form.id}/${submissionId}`,
    kind: 'interaction',
    identifiers: {
      ...(emails.length > 0 ? { emails } : {}),
      ...(phones.length > 0 ? { phones } : {}),
      ...(ids.length > 0 ? { ids: Object.fromEntries(ids) } : {}),
    },
    traits: Object.fromEntries(traits),
    interaction: {
      channel: 'form',
      direction: 'inbound',
      subject: subject ?? `Form ${form.id}`,
      ...(bodyParts.length > 0 ? { body: bodyParts.join('\n') } : {}),
      data: { formId: form.id, fields: Object.fromEntries(unmapped), ...(form.consent ? { consent: { granted } } : {}) },
    },
  };
}

/** True when the honeypot field (invisible to people) was filled in: a bot. */
export function isBot(form: FormConfig, fields: FormFields): boolean {
  if (!form.honeypot) return false;
  const value = Object.hasOwn(fields, form.honeypot) ? fields[form.honeypot] : undefined;
  return value !== undefined && values(value).length > 0;
}
