import type { FormConfig } from '../../core/config/config.schema.js';
import type { HubRecord } from '../../core/record.schema.js';

export const DEFAULT_FORM_SOURCE = 'web-form';

/** A submitted field: repeated names (checkboxes) arrive as arrays. */
export type FormFields = Record<string, string | string[]>;

function text(value: string | string[]): string {
  return (Array.isArray(value) ? value.join(', ') : value).trim();
}

/**
 * Turns one form submission into an interaction record (channel `form`). Mapped fields become
 * identifiers, traits, the subject or the body; every field not mapped is kept in the body and,
 * as given, in `interaction.data.fields`, so nothing the visitor typed is lost.
 */
export function formSubmissionToRecord(form: FormConfig, fields: FormFields, submissionId: string): HubRecord {
  const emails: string[] = [];
  const phones: string[] = [];
  const ids: Record<string, string> = {};
  const traits: Record<string, string> = {};
  const unmapped: Record<string, string> = {};
  let subject: string | undefined;
  const bodyParts: string[] = [];

  for (const [name, raw] of Object.entries(fields)) {
    if (name === form.honeypot) continue;
    const value = text(raw);
    if (value === '') continue;
    const target = form.fields[name];
    if (target === 'email') emails.push(value);
    else if (target === 'phone') phones.push(value);
    else if (target === 'externalId') {
      const colon = value.indexOf(':');
      if (colon > 0) ids[value.slice(0, colon)] = value.slice(colon + 1);
      else unmapped[name] = value;
    } else if (target === 'subject') subject = value;
    else if (target === 'body') bodyParts.unshift(value);
    else if (target !== undefined) traits[target] = value;
    else unmapped[name] = value;
  }
  for (const [name, value] of Object.entries(unmapped)) bodyParts.push(`${name}: ${value}`);

  return {
    source: form.source ?? DEFAULT_FORM_SOURCE,
    sourceId: `${form.id}/${submissionId}`,
    kind: 'interaction',
    identifiers: {
      ...(emails.length > 0 ? { emails } : {}),
      ...(phones.length > 0 ? { phones } : {}),
      ...(Object.keys(ids).length > 0 ? { ids } : {}),
    },
    traits,
    interaction: {
      channel: 'form',
      direction: 'inbound',
      subject: subject ?? `Form ${form.id}`,
      ...(bodyParts.length > 0 ? { body: bodyParts.join('\n') } : {}),
      data: { formId: form.id, fields: unmapped },
    },
  };
}

/** True when the honeypot field (invisible to people) was filled in: a bot. */
export function isBot(form: FormConfig, fields: FormFields): boolean {
  if (!form.honeypot) return false;
  const value = fields[form.honeypot];
  return value !== undefined && text(value) !== '';
}
