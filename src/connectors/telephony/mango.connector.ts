import { createHash } from 'node:crypto';
import { Type } from 'typebox';
import { HubError } from '../../core/errors.js';
import { defineConnector, type WebhookRequest } from '../connector.js';
import { earliest, latest, readCallEvent, rememberCallEvent, type CallEvent, type StoredEvent } from './call-memory.js';
import { EMPTY_OK, callMapping, callPayload, compact, flatten, formFields, fromUnixSeconds, integer, safeEqual, type CallPayload, type CallStatus } from './call.js';
import { PhoneSettings, party, phoneContext, sides, toE164, type PhoneContext } from './phones.js';

const Settings = Type.Object(
  {
    apiKey: Type.String({ minLength: 8, description: 'the VPBX API key (vpbx_api_key) from the Mango Office API connector settings' }),
    apiSalt: Type.String({ minLength: 8, description: 'the VPBX API salt ("подпись"), the secret part of sign; use ${ENV_VAR}' }),
    ...PhoneSettings,
  },
  { additionalProperties: false },
);

/** `sign` of a Mango Office request: hex SHA-256 of api key + json + salt (a salted hash, not an HMAC). */
export function mangoSign(apiKey: string, json: string, apiSalt: string): string {
  return createHash('sha256').update(apiKey + json + apiSalt, 'utf8').digest('hex');
}

/** Checks vpbx_api_key and sign over the exact json string received; throws HubError UNAUTHORIZED. */
export function verifyMango(settings: { apiKey: string; apiSalt: string }, request: WebhookRequest): void {
  const f = request.body !== null && typeof request.body === 'object' ? formFields(request.body, 'Mango Office event') : {};
  const { vpbx_api_key: apiKey, sign, json } = f;
  if (apiKey === undefined || sign === undefined || json === undefined) throw new HubError('UNAUTHORIZED', 'missing vpbx_api_key, sign or json');
  const keyOk = safeEqual(apiKey, settings.apiKey);
  const signOk = safeEqual(sign.toLowerCase(), mangoSign(settings.apiKey, json, settings.apiSalt));
  if (!keyOk || !signOk) throw new HubError('UNAUTHORIZED', keyOk ? 'sign does not match the json' : 'vpbx_api_key is not this connector’s');
}

type MangoKind = 'call' | 'summary' | 'recording';

// Mango appends the event's path to the one URL it is given: {url}/events/call, /events/summary,
// /events/recording, /events/dtmf, /events/sms, /result/... (VPBX API v1.9, "Уведомления").
function kindOf(url: string, json: Record<string, unknown>): MangoKind | 'other' {
  const path = /\/(events|result)\/([a-z_]+)\/?$/.exec(new URL(url, 'http://localhost').pathname);
  if (path) return path[1] === 'events' && (path[2] === 'call' || path[2] === 'summary' || path[2] === 'recording') ? path[2] : 'other';
  if ('call_state' in json) return 'call';
  if ('recording_state' in json) return 'recording';
  if ('entry_result' in json || 'create_time' in json) return 'summary';
  return 'other';
}

function required(fields: Record<string, string>, names: string[], what: string): void {
  const missing = names.filter((n) => !fields[n]);
  if (missing.length > 0) throw new HubError('VALIDATION', `${what} without ${missing.join(', ')}`);
}

/** Turns one Mango Office notification into a call event; null for notifications that are not about calls. */
export function mangoEvent(url: string, json: string): CallEvent | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new HubError('VALIDATION', 'the json field is not JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new HubError('VALIDATION', 'the json field is not a JSON object');
  const kind = kindOf(url, parsed as Record<string, unknown>);
  if (kind === 'other') return null;
  const fields: Record<string, string> = { ...flatten(parsed), _kind: kind };
  const entry = fields['entry_id'] ?? '';
  if (kind === 'call') {
    required(fields, ['entry_id', 'call_id', 'call_state'], 'call event');
    const seq = integer(fields['seq']) ?? 0;
    return { callId: entry, key: `${entry}:call:${fields['call_id']}:${seq}`, order: [integer(fields['timestamp']) ?? 0, seq], fields };
  }
  if (kind === 'summary') {
    required(fields, ['entry_id'], 'summary');
    // The summary comes once the whole entry is over: it sorts after every call event.
    return { callId: entry, key: `${entry}:summary`, order: [Number.MAX_SAFE_INTEGER], fields };
  }
  required(fields, ['entry_id', 'recording_id'], 'recording event');
  return { callId: entry, key: `${entry}:recording:${fields['recording_id']}:${fields['recording_state'] ?? ''}`, order: [integer(fields['timestamp']) ?? 0, 0], fields };
}

// A leg answered by a person: Connected at an employee, not at the IVR or in a queue.
const isTalk = (e: StoredEvent) => e.fields['call_state'] === 'Connected' && e.fields['location'] !== 'ivr' && e.fields['location'] !== 'queue';

/** The call all remembered events of one entry_id describe (its legs merged). */
export function foldMango(events: readonly StoredEvent[], phones: PhoneContext): CallPayload {
  const calls = events.filter((e) => e.fields['_kind'] === 'call');
  const summary = events.find((e) => e.fields['_kind'] === 'summary')?.fields;
  // The line the customer dialled is the company's, configured or not.
  const lines = [...new Set(events.flatMap((e) => [e.fields['to.line_number'], e.fields['line_number']]).filter((n): n is string => !!n))];
  const ctx: PhoneContext = { ...phones, company: new Set([...phones.company, ...lines.map((n) => toE164(n, phones.defaultCountry, 'intl-digits')).filter((n): n is string => !!n)]) };
  const fromExt = earliest(events, 'from.extension');
  const toExt = earliest(events, 'to.extension');
  const from = party(earliest(events, 'from.number') ?? fromExt, ctx, 'intl-digits', fromExt !== undefined);
  const to = party(earliest(events, 'to.number') ?? lines[0] ?? toExt, ctx, 'intl-digits', toExt !== undefined);
  const direction = summary?.['call_direction'] === '1' ? 'inbound' : summary?.['call_direction'] === '2' ? 'outbound' : undefined;

  const lastOfLeg = new Map<string, StoredEvent>();
  for (const e of calls) {
    const leg = e.fields['call_id'] ?? '';
    const seen = lastOfLeg.get(leg);
    if (!seen || (integer(e.fields['seq']) ?? 0) >= (integer(seen.fields['seq']) ?? 0)) lastOfLeg.set(leg, e);
  }
  const ended = summary !== undefined || (lastOfLeg.size > 0 && [...lastOfLeg.values()].every((e) => e.fields['call_state'] === 'Disconnected'));
  const talks = calls.filter(isTalk);
  const talkStart = integer(summary?.['talk_time']) ?? 0;
  const answered = talks.length > 0 || talkStart > 0;
  const status: CallStatus = ended ? (answered ? 'answered' : 'missed') : answered ? 'in-progress' : 'ringing';

  let durationSec: number | undefined;
  const summaryEnd = integer(summary?.['end_time']) ?? 0;
  if (talkStart > 0 && summaryEnd >= talkStart) durationSec = summaryEnd - talkStart;
  else if (ended && talks.length > 0) {
    const talkLegs = new Set(talks.map((e) => e.fields['call_id']));
    const start = Math.min(...talks.map((e) => integer(e.fields['timestamp']) ?? Number.MAX_SAFE_INTEGER));
    const ends = calls.filter((e) => e.fields['call_state'] === 'Disconnected' && talkLegs.has(e.fields['call_id'])).map((e) => integer(e.fields['timestamp']) ?? 0);
    if (ends.length > 0 && Math.max(...ends) >= start) durationSec = Math.max(...ends) - start;
  } else if (ended) durationSec = 0;

  const recordingIds = [...new Set(events.map((e) => (e.fields['_kind'] === 'recording' ? e.fields['recording_id'] : undefined)).filter((id): id is string => !!id))];
  const entryId = latest(events, 'entry_id') ?? '';
  return callPayload({
    provider: 'mango',
    id: entryId,
    sides: sides(from, to, direction),
    status,
    missed: ended && !answered,
    startedAt: fromUnixSeconds(summary?.['create_time']) ?? fromUnixSeconds(earliest(calls, 'timestamp')),
    durationSec,
    data: compact({
      entryId,
      callIds: [...lastOfLeg.keys()],
      extension: toExt ?? fromExt,
      lineNumber: lines[0],
      disconnectReason: summary?.['disconnect_reason'] ?? latest(calls, 'disconnect_reason'),
      entryResult: summary?.['entry_result'],
      recordingIds: recordingIds.length > 0 ? recordingIds : undefined,
    }),
  });
}

/**
 * Mango Office VPBX: realtime call notifications (per-leg Appeared/Connected/Disconnected), the
 * per-entry summary and recording notifications become one `call` interaction per entry_id.
 */
export const mangoConnector = defineConnector({
  type: 'mango',
  version: 1,
  description: 'Mango Office VPBX call events (vpbx_api_key + salted SHA-256 sign)',
  settingsSchema: Settings,
  mappings: [callMapping('mango', 'Mango Office calls: one interaction per entry_id (all legs), linked to the customer by phone')],
  webhook: {
    verify(ctx, request) {
      verifyMango(ctx.settings, request);
    },
    accept(_ctx, request) {
      const json = formFields(request.body, 'Mango Office event')['json'] ?? '';
      const event = mangoEvent(request.url, json);
      // Mango wants any 200; events about other things (dtmf, sms, command results) are not calls.
      return { events: event ? [{ id: event.key, payload: event }] : [], reply: EMPTY_OK };
    },
  },
  async prepare(ctx, event) {
    const events = await rememberCallEvent(ctx.memory, readCallEvent(event.payload), { log: ctx.log });
    return [foldMango(events, phoneContext(ctx.settings, 'intl-digits'))];
  },
});
