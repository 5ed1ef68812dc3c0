import type { FormConfig } from '../../core/config/config.schema.js';
import type { HubRecord } from '../../core/record.schema.js';

export const DEFAULT_FORM_SOURCE = 'web-form';

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
 */
export function formSubmissionToRecord(form: FormConfig, fields: FormFields, submissionId: string): HubRecord {
  const emails: string[] = [];
  const phones: string[] = [];
  const ids: [string, string][] = [];
  const traits: [string, string][] = [];
  const unmapped: [string, string | string[]][] = [];
  let subject: string | undefined;
  const bodyParts: string[] = [];

  for (const [name, raw] of Object.entries(fields)) {
    if (name === form.honeypot) continue;
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
    else if (target !== undefined) traits.push([target, value]);
    else unmapped.push([name, Array.isArray(raw) ? list : value]);
  }
  for (const [name, value] of unmapped) bodyParts.push(`${name}: ${Array.isArray(value) ? value.join(', ') : value}`);

  // Object.fromEntries: a field named "__proto__" becomes an own key, not the object's prototype.
  return {
    source: form.source ?? DEFAULT_FORM_SOURCE,
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
      data: { formId: form.id, fields: Object.fromEntries(unmapped) },
    },
  };
}

/** True when the honeypot field (invisible to people) was filled in: a bot. */
export function isBot(form: FormConfig, fields: FormFields): boolean {
  if (!form.honeypot) return false;
  const value = Object.hasOwn(fields, form.honeypot) ? fields[form.honeypot] : undefined;
  return value !== undefined && values(value).length > 0;
}
