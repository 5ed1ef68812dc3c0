import { createHmac } from 'node:crypto';
import { Type } from 'typebox';
import { HubError } from '../../core/errors.js';
import { defineConnector, type WebhookRequest } from '../connector.js';
import { latest, readCallEvent, rememberCallEvent, type CallEvent, type StoredEvent } from './call-memory.js';
import { EMPTY_OK, callMapping, callPayload, compact, formFields, header, integer, safeEqual, type CallPayload, type CallStatus } from './call.js';
import { PhoneSettings, party, phoneContext, sides, type PhoneContext } from './phones.js';

const Settings = Type.Object(
  {
    apiSecret: Type.String({ minLength: 16, description: 'the API secret from the Zadarma personal account (Settings → API); use ${ENV_VAR}' }),
    timeZoneOffset: Type.String({
      pattern: '^[+-]\\d{2}:\\d{2}$',
      default: '+00:00',
      description: 'UTC offset of the time zone set in the Zadarma account: call_start carries no zone (e.g. "+03:00" for Moscow)',
    }),
    ...PhoneSettings,
  },
  { additionalProperties: false },
);

// What each notification signs, from the official SDK (zadarma/user-api-v1 lib/Webhook/*.php getSignatureString()).
const SIGNED_FIELDS: Record<string, readonly string[]> = {
  NOTIFY_START: ['caller_id', 'called_did', 'call_start'],
  NOTIFY_IVR: ['caller_id', 'called_did', 'call_start'],
  NOTIFY_INTERNAL: ['caller_id', 'called_did', 'call_start'],
  NOTIFY_END: ['caller_id', 'called_did', 'call_start'],
  NOTIFY_ANSWER: ['caller_id', 'destination', 'call_start'],
  NOTIFY_OUT_START: ['internal', 'destination', 'call_start'],
  NOTIFY_OUT_END: ['internal', 'destination', 'call_start'],
  NOTIFY_RECORD: ['pbx_call_id', 'call_id_with_rec'],
  SMS: ['result'],
  SPEECH_RECOGNITION: ['result'],
};

const RANK: Record<string, number> = { NOTIFY_START: 0, NOTIFY_OUT_START: 0, NOTIFY_IVR: 0, NOTIFY_INTERNAL: 1, NOTIFY_ANSWER: 2, NOTIFY_END: 3, NOTIFY_OUT_END: 3, NOTIFY_RECORD: 4 };

// NotifyEnd.php: 'answered', 'busy', 'cancel', 'no answer', 'failed', 'no money', 'unallocated number',
// 'no limit', 'no day limit', 'line limit', 'no money, no limit'; everything but the first three is a failure to connect.
const DISPOSITION: Record<string, CallStatus> = { answered: 'answered', busy: 'busy', cancel: 'missed', 'no answer': 'missed' };

/**
 * `Signature` of a Zadarma notification: base64 of the lowercase hex HMAC-SHA1 — PHP's hash_hmac
 * returns hex, which the SDK then base64-encodes (56 characters, not 28).
 */
export function zadarmaSignature(apiSecret: string, signed: string): string {
  return Buffer.from(createHmac('sha1', apiSecret).update(signed, 'utf8').digest('hex')).toString('base64');
}

/** Checks the Signature header of a notification; the zd_echo check needs none. Throws HubError UNAUTHORIZED. */
export function verifyZadarma(settings: { apiSecret: string }, request: WebhookRequest): void {
  if (request.method === 'GET' && typeof request.query['zd_echo'] === 'string') return;
  const given = header(request, 'signature');
  if (!given) throw new HubError('UNAUTHORIZED', 'missing Signature');
  const fields = request.body !== null && typeof request.body === 'object' ? formFields(request.body, 'Zadarma notification') : {};
  const names = SIGNED_FIELDS[fields['event'] ?? ''];
  if (!names) throw new HubError('UNAUTHORIZED', `cannot verify Zadarma event "${fields['event'] ?? ''}": no signature scheme is known for it`);
  if (!safeEqual(given, zadarmaSignature(settings.apiSecret, names.map((n) => fields[n] ?? '').join('')))) {
    throw new HubError('UNAUTHORIZED', `Signature does not match ${names.join(' + ')}`);
  }
}

/** Turns one Zadarma notification into a call event; null for notifications that are not about calls (SMS, speech recognition). */
export function zadarmaEvent(fields: Record<string, string>): CallEvent | null {
  const event = fields['event'] ?? '';
  const rank = RANK[event];
  if (rank === undefined) return null;
  const pbxCallId = fields['pbx_call_id'];
  if (!pbxCallId) throw new HubError('VALIDATION', `${event} without pbx_call_id`);
  const detail = event === 'NOTIFY_RECORD' ? (fields['call_id_with_rec'] ?? '') : (fields['internal'] ?? '');
  return { callId: pbxCallId, key: `${pbxCallId}:${event}:${detail}`, order: [rank], fields };
}

/** call_start ("2024-05-14 12:00:00", the account's local time) as ISO-8601 UTC. */
function callStart(value: string | undefined, offset: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})$/.exec(value?.trim() ?? '');
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}T${m[2]}${offset}`);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** The call all remembered notifications of one pbx_call_id describe. */
export function foldZadarma(events: readonly StoredEvent[], phones: PhoneContext, timeZoneOffset: string): CallPayload {
  const outbound = events.some((e) => e.fields['event']?.startsWith('NOTIFY_OUT_'));
  // Inbound: caller_id called our called_did. Outbound: our extension (internal) called destination, shown as caller_id.
  const [from, to] = outbound
    ? [party(latest(events, 'caller_id') ?? latest(events, 'internal'), phones, 'intl-digits', true), party(latest(events, 'destination'), phones, 'intl-digits')]
    : [party(latest(events, 'caller_id'), phones, 'intl-digits'), party(latest(events, 'called_did'), phones, 'intl-digits', true)];
  const end = [...events].reverse().find((e) => e.fields['event'] === 'NOTIFY_END' || e.fields['event'] === 'NOTIFY_OUT_END')?.fields;
  const disposition = end?.['disposition'];
  const status: CallStatus = end ? (DISPOSITION[disposition ?? ''] ?? 'failed') : events.some((e) => e.fields['event'] === 'NOTIFY_ANSWER') ? 'in-progress' : 'ringing';
  const pbxCallId = latest(events, 'pbx_call_id') ?? '';
  return callPayload({
    provider: 'zadarma',
    id: pbxCallId,
    sides: sides(from, to, outbound ? 'outbound' : 'inbound'),
    status,
    missed: status === 'missed' || status === 'busy',
    startedAt: callStart(latest(events, 'call_start'), timeZoneOffset),
    durationSec: integer(end?.['duration']),
    data: compact({
      pbxCallId,
      extension: latest(events, 'internal'),
      disposition,
      statusCode: end?.['status_code'],
      recorded: end ? end['is_recorded'] === '1' : undefined,
      // The recording itself is fetched with this id through the REST API (pbx/record/request), about 40 s after the call.
      callIdWithRec: latest(events, 'call_id_with_rec'),
    }),
  });
}

/**
 * Zadarma (also Novofon) PBX notifications: NOTIFY_START … NOTIFY_END, NOTIFY_OUT_*, NOTIFY_RECORD
 * become one `call` interaction per pbx_call_id; the zd_echo check is answered.
 */
export const zadarmaConnector = defineConnector({
  type: 'zadarma',
  version: 1,
  description: 'Zadarma PBX call notifications (Signature: base64 of hex HMAC-SHA1), zd_echo answered',
  settingsSchema: Settings,
  mappings: [callMapping('zadarma', 'Zadarma calls: one interaction per pbx_call_id, linked to the customer by phone')],
  webhook: {
    verify(ctx, request) {
      verifyZadarma(ctx.settings, request);
    },
    accept(_ctx, request) {
      const echo = request.query['zd_echo'];
      if (request.method === 'GET') {
        // Zadarma checks the URL by GET ?zd_echo=<random> and wants the value back as the body; a
        // value that is not a plain token is refused rather than reflected.
        if (typeof echo !== 'string' || !/^[\w.~+=/-]{1,256}$/.test(echo)) throw new HubError('VALIDATION', 'GET is only for the zd_echo check (a plain token)');
        return { events: [], reply: { status: 200, contentType: 'text/plain', body: echo } };
      }
      const event = zadarmaEvent(formFields(request.body, 'Zadarma notification'));
      // An empty 200 to NOTIFY_START/NOTIFY_IVR leaves the call's routing as configured.
      return { events: event ? [{ id: event.key, payload: event }] : [], reply: EMPTY_OK };
    },
  },
  async prepare(ctx, event) {
    const events = await rememberCallEvent(ctx.memory, readCallEvent(event.payload), { log: ctx.log });
    return [foldZadarma(events, phoneContext(ctx.settings, 'intl-digits'), ctx.settings.timeZoneOffset)];
  },
});
