import { domainToASCII } from 'node:url';
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import type { HubRecord } from '../record.schema.js';
import { canonicalEmail, type EmailRule } from './email-canonical.js';

export type IdentifierType = 'email' | 'phone' | 'externalId';

/** How identifiers are normalized: the country for phones without "+", the provider rules for emails. */
export type NormalizeOptions = { defaultCountry: string; emailRules: readonly EmailRule[] };
export type Identifier = { type: IdentifierType; value: string };

/** Trims, lowercases and turns an internationalized domain into its ASCII (punycode) form; null if not an address. */
export function normalizeEmail(raw: string): string | null {
  const trimmed = raw.trim().normalize('NFKC').replace(/^mailto:/i, '');
  const at = trimmed.lastIndexOf('@');
  // A second "@" means two addresses run together or garbage, not an address.
  if (at < 1 || at === trimmed.length - 1 || /\s/.test(trimmed) || trimmed.indexOf('@') !== at) return null;
  const local = trimmed.slice(0, at).toLowerCase();
  // "example.com." is the same domain written fully qualified; an empty label is no domain.
  const domain = domainToASCII(trimmed.slice(at + 1).toLowerCase().replace(/\.$/, ''));
  if (!domain || !domain.includes('.') || domain.split('.').includes('')) return null;
  return `${local}@${domain}`;
}

/** E.164 form of a phone number written in any common way; numbers without + use the default country. */
export function normalizePhone(raw: string, defaultCountry: string): string | null {
  const parsed = parsePhoneNumberFromString(raw.trim(), { defaultCountry: defaultCountry as CountryCode, extract: false });
  if (!parsed || !parsed.isPossible()) return null;
  return parsed.number;
}

/** `system:id`; null for a blank id, which would otherwise join every record that has one. */
export function externalId(system: string, id: string): string | null {
  const trimmed = id.trim();
  return trimmed ? `${system}:${trimmed}` : null;
}

function linkingEmail(raw: string, emailRules: readonly EmailRule[]): string | null {
  const email = normalizeEmail(raw);
  return email === null ? null : canonicalEmail(email, emailRules);
}

// The ingest worker's erasure guard and the store both need a record's identifiers, and parsing
// phones is the costliest part of a record's intake: a record object is normalized once per options.
const normalized = new WeakMap<NormalizeOptions, WeakMap<HubRecord, readonly Identifier[]>>();

/** The identifiers that link a record to a profile, normalized and de-duplicated. */
export function recordIdentifiers(record: HubRecord, options: NormalizeOptions): readonly Identifier[] {
  let byRecord = normalized.get(options);
  if (!byRecord) {
    byRecord = new WeakMap();
    normalized.set(options, byRecord);
  }
  const known = byRecord.get(record);
  if (known) return known;
  const ids = Object.freeze(normalizeIdentifiers(record, options));
  byRecord.set(record, ids);
  return ids;
}

function normalizeIdentifiers(record: HubRecord, { defaultCountry, emailRules }: NormalizeOptions): Identifier[] {
  const seen = new Map<string, Identifier>();
  const add = (type: IdentifierType, value: string | null) => {
    if (value) seen.set(`${type}\u0000${value}`, { type, value });
  };
  for (const email of record.identifiers?.emails ?? []) add('email', linkingEmail(email, emailRules));
  for (const phone of record.identifiers?.phones ?? []) add('phone', normalizePhone(phone, defaultCountry));
  for (const [system, id] of Object.entries(record.identifiers?.ids ?? {})) add('externalId', externalId(system, id));
  if (record.kind === 'contact') add('externalId', externalId(record.source, record.sourceId));
  return [...seen.values()];
}

/** Normalizes a lookup value given in a query string the same way as ingested values. */
export function normalizeLookup(type: IdentifierType, raw: string, { defaultCountry, emailRules }: NormalizeOptions): string | null {
  if (type === 'email') return linkingEmail(raw, emailRules);
  if (type === 'phone') return normalizePhone(raw, defaultCountry);
  const colon = raw.indexOf(':');
  return colon > 0 && colon < raw.length - 1 ? externalId(raw.slice(0, colon), raw.slice(colon + 1)) : null;
}
