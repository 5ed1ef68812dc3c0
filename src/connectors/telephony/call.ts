import { timingSafeEqual } from 'node:crypto';
import { HubError } from '../../core/errors.js';
import type { MappingDocument } from '../../mappings/mapping.schema.js';
import type { WebhookReply, WebhookRequest } from '../connector.js';
import type { Sides } from './phones.js';

/**
 * Where a call stands, the same words for every provider. `missed` and `busy` are missed calls;
 * `failed` is a call the network could not place.
 */
export type CallStatus = 'ringing' | 'in-progress' | 'answered' | 'missed' | 'busy' | 'failed';

/**
 * What the mapping of a telephony connector sees: one call (or SMS) with every event of it merged,
 * provider words already translated. `customerPhone` is absent for internal calls and withheld
 * numbers, and then the built-in mappings make no record. Documented in docs/connectors/telephony.md.
 */
export type CallPayload = {
  provider: string;
  channel: 'call' | 'sms';
  /** The call's id at the provider: the record's sourceId. */
  id: string;
  direction: 'inbound' | 'outbound';
  status: string;
  /** E.164 when the number could be read as one, else as the provider wrote it. */
  customerPhone?: string;
  /** ISO-8601: when the call began (or the message arrived). */
  startedAt?: string;
  /** Seconds of conversation. */
  durationSec?: number;
  body?: string;
  /** `missed`, `recordingUrl`, `companyNumber` and the provider's own ids and codes. */
  data: Record<string, unknown>;
};

/** Drops undefined values, so that the same call always makes the same record. */
export function compact<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Builds the payload a telephony mapping sees from a call folded by its connector. */
export function callPayload(input: {
  provider: string;
  channel?: 'call' | 'sms';
  id: string;
  sides: Sides;
  status: string;
  missed?: boolean;
  startedAt?: string;
  durationSec?: number;
  recordingUrl?: string;
  body?: string;
  data: Record<string, unknown>;
}): CallPayload {
  const { customer, company, direction } = input.sides;
  return {
    provider: input.provider,
    channel: input.channel ?? 'call',
    id: input.id,
    direction,
    status: input.status,
    ...compact({
      customerPhone: customer?.phone ?? customer?.raw,
      startedAt: input.startedAt,
      durationSec: input.durationSec,
      body: input.body,
    }),
    data: compact({ missed: input.missed, recordingUrl: input.recordingUrl, companyNumber: company?.phone ?? company?.raw, ...input.data }),
  };
}

/**
 * The built-in mapping of a telephony connector: one interaction per call, linked to the customer
 * by their phone. A call without a customer (internal, withheld number) makes no record.
 */
export function callMapping(source: string, description: string): MappingDocument {
  return {
    name: source,
    version: 1,
    description,
    records: [
      {
        kind: 'interaction',
        when: 'customerPhone',
        source: { const: source },
        sourceId: 'id',
        occurredAt: 'startedAt',
        identifiers: { phones: ['customerPhone'] },
        interaction: {
          channel: 'channel',
          direction: 'direction',
          status: 'status',
          durationSec: 'durationSec',
          body: 'body',
          data: 'data',
        },
      },
    ],
  };
}

export function header(request: WebhookRequest, name: string): string | undefined {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** Constant-time string comparison (different lengths are unequal at once, as they may be). */
export function safeEqual(actual: string, expected: string): boolean {
  const a = Buffer.from(actual);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A urlencoded (or query) body as single string values; a repeated field keeps its first value. */
export function formFields(body: unknown, what: string): Record<string, string> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new HubError('VALIDATION', `${what}: expected form fields`);
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(body)) {
    const first: unknown = Array.isArray(value) ? value[0] : value;
    if (typeof first === 'string') out[key] = first;
  }
  return out;
}

/**
 * A JSON object as flat string fields (`from.number`), scalars only, at most `depth` levels; what
 * the call memory keeps of a JSON event.
 */
export function flatten(value: unknown, depth = 3, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return out;
  for (const [key, v] of Object.entries(value)) {
    const name = `${prefix}${key}`;
    if (typeof v === 'string') out[name] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') out[name] = String(v);
    else if (depth > 1 && v !== null && typeof v === 'object' && !Array.isArray(v)) Object.assign(out, flatten(v, depth - 1, `${name}.`));
  }
  return out;
}

export function integer(value: string | undefined): number | undefined {
  if (value === undefined || !/^\s*-?\d+(\.\d+)?\s*$/.test(value)) return undefined;
  return Math.trunc(Number(value));
}

/** ISO-8601 from Unix seconds (a string, as providers send them). */
export function fromUnixSeconds(value: string | undefined): string | undefined {
  const n = integer(value);
  return n === undefined || n <= 0 ? undefined : new Date(n * 1000).toISOString();
}

/** Milliseconds of an ISO-8601 or RFC 2822 time; 0 when there is none, so it sorts first. */
export function millis(value: string | undefined): number {
  if (!value) return 0;
  // Twilio writes the day of the week its own way ("Thurs, 20 July 1989 …"); the date after it is enough.
  const parsed = Date.parse(value.replace(/^[A-Za-z]+,\s*/, ''));
  return Number.isNaN(parsed) ? 0 : parsed;
}

/** The earliest of some times, as ISO-8601. */
export function earliestTime(values: readonly (string | undefined)[]): string | undefined {
  const times = values.map(millis).filter((t) => t > 0);
  return times.length === 0 ? undefined : new Date(Math.min(...times)).toISOString();
}

/** TwiML that changes nothing; also what providers that want "any 200" get. */
export const EMPTY_TWIML: WebhookReply = { status: 200, contentType: 'text/xml', body: '<?xml version="1.0" encoding="UTF-8"?><Response></Response>' };
export const EMPTY_OK: WebhookReply = { status: 200, contentType: 'text/plain', body: '' };
