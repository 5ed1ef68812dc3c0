import { Type } from 'typebox';
import { normalizePhone } from '../../core/identity/normalize.js';

/** Settings every telephony connector has: which numbers are the company's own, and how to read numbers without "+". */
export const PhoneSettings = {
  companyNumbers: Type.Array(Type.String({ minLength: 1 }), {
    default: [],
    description: "the company's own numbers (lines, DIDs, caller ids), any format; they never become a customer's identifier",
  }),
  defaultCountry: Type.String({ pattern: '^[A-Z]{2}$', default: 'RU', description: 'ISO 3166 country for numbers written without "+" (8 495 …)' }),
};

export type PhoneContext = { defaultCountry: string; company: ReadonlySet<string> };

/**
 * How a provider writes numbers: `e164` with "+" (Twilio), or `intl-digits`, the international
 * number without "+" (Mango, Zadarma, Vonage: 74951234567, 447700900000), which a plain parse
 * under a default country would misread.
 */
export type NumberStyle = 'e164' | 'intl-digits';

const contexts = new WeakMap<object, Partial<Record<NumberStyle, PhoneContext>>>();

/** The company's numbers in E.164, worked out once per connector's settings. */
export function phoneContext(settings: { companyNumbers: readonly string[]; defaultCountry: string }, style: NumberStyle): PhoneContext {
  const known = contexts.get(settings)?.[style];
  if (known) return known;
  const company = new Set<string>();
  for (const raw of settings.companyNumbers) {
    const e164 = toE164(raw, settings.defaultCountry, style);
    if (e164) company.add(e164);
  }
  const context = { defaultCountry: settings.defaultCountry, company };
  contexts.set(settings, { ...contexts.get(settings), [style]: context });
  return context;
}

/** E.164 form of a number as the provider wrote it; null when it is not a phone number. */
export function toE164(raw: string, defaultCountry: string, style: NumberStyle): string | null {
  const text = raw.trim();
  if (style === 'intl-digits' && /^\d{11,15}$/.test(text)) {
    const international = normalizePhone(`+${text}`, defaultCountry);
    if (international) return international;
  }
  return normalizePhone(text, defaultCountry);
}

// Phone keypad spelling: carriers show a withheld caller as the word typed on the keypad
// (Twilio: +266696687 "ANONYMOUS", +7378742833 "RESTRICTED", +2562533 "BLOCKED", +8656696 "UNKNOWN").
const KEYPAD = ['abc', 'def', 'ghi', 'jkl', 'mno', 'pqrs', 'tuv', 'wxyz'];
const keypad = (word: string) => [...word].map((c) => String(KEYPAD.findIndex((keys) => keys.includes(c)) + 2)).join('');
const WITHHELD_WORDS = ['anonymous', 'restricted', 'blocked', 'unknown', 'unavailable', 'private', 'withheld'];
const WITHHELD = new Set([...WITHHELD_WORDS, ...WITHHELD_WORDS.map(keypad)]);

/** A caller id that names no one: empty, a word such as "anonymous", its keypad spelling, or zeros. */
export function isWithheld(raw: string | undefined): boolean {
  const text = (raw ?? '').trim().toLowerCase().replace(/^\+/, '');
  return text === '' || /^0+$/.test(text) || WITHHELD.has(text);
}

/** One end of a call as the provider named it. */
export type Party = {
  /** The number or identity as the provider wrote it. */
  raw?: string;
  /** E.164 when it is a phone number. */
  phone?: string;
  /** The company's side: an own number, an extension, an app/SIP user. */
  company: boolean;
};

/**
 * Classifies one end of a call. It is the company's side when the provider says so (an extension,
 * the line that was dialled), when it is one of the configured numbers, or when it cannot be a
 * customer's phone: an app or SIP identity (`client:alice`, `sip:…`), a dialplan name, or a short
 * internal number (an extension, up to 5 digits).
 */
export function party(raw: string | undefined, ctx: PhoneContext, style: NumberStyle, knownCompany = false): Party {
  const text = raw?.trim();
  if (!text || isWithheld(text)) return { ...(text ? { raw: text } : {}), company: knownCompany };
  const phone = toE164(text, ctx.defaultCountry, style) ?? undefined;
  // An app or SIP identity, or a dialplan name without a digit (Asterisk's "s").
  const identity = /^[a-z][a-z0-9+.-]*:/i.test(text) || text.includes('@') || !/\d/.test(text);
  const internal = /^\d{1,5}$/.test(text);
  return { raw: text, ...(phone ? { phone } : {}), company: knownCompany || identity || internal || (phone !== undefined && ctx.company.has(phone)) };
}

export type Sides = { direction: 'inbound' | 'outbound'; customer?: Party; company?: Party };

/**
 * Which way the call went and who the customer is. The company's numbers decide; when both ends
 * or neither end are the company's, the provider's direction does (inbound when it says nothing).
 * Inbound calls take the caller as the customer, outbound the callee; a withheld or company-side
 * number is no customer (an internal call has none).
 */
export function sides(from: Party, to: Party, hint?: 'inbound' | 'outbound'): Sides {
  const direction = from.company && !to.company ? 'outbound' : to.company && !from.company ? 'inbound' : (hint ?? 'inbound');
  const [customer, company] = direction === 'inbound' ? [from, to] : [to, from];
  return {
    direction,
    ...(!customer.company && customer.raw && !isWithheld(customer.raw) ? { customer } : {}),
    ...(company.raw ? { company } : {}),
  };
}
