import { createHash, createHmac } from 'node:crypto';
import { Type } from 'typebox';
import { HubError } from '../../core/errors.js';
import { defineConnector, type WebhookRequest } from '../connector.js';
import { readCallEvent, rememberCallEvent, latest, type CallEvent, type StoredEvent } from './call-memory.js';
import { EMPTY_TWIML, callMapping, callPayload, compact, earliestTime, formFields, header, integer, millis, safeEqual, type CallPayload, type CallStatus } from './call.js';
import { PhoneSettings, party, phoneContext, sides, type PhoneContext } from './phones.js';

const Settings = Type.Object(
  {
    authToken: Type.String({ minLength: 16, description: 'the Auth Token of the Twilio account (signs X-Twilio-Signature); use ${ENV_VAR}' }),
    publicUrl: Type.String({
      format: 'uri',
      pattern: '^https?://',
      description: 'this webhook as Twilio calls it, e.g. https://crm.example.com/v1/webhooks/twilio; the query string Twilio adds is appended as received',
    }),
    ...PhoneSettings,
  },
  { additionalProperties: false },
);

// Lifecycle rank of CallStatus (https://www.twilio.com/docs/voice/api/call-resource#call-status-values):
// the rank orders a call's events before SequenceNumber does, because the first request (the
// incoming-call webhook) has no SequenceNumber, and a terminal status is final whatever came later.
const CALL_RANK: Record<string, number> = { queued: 0, initiated: 1, ringing: 2, 'in-progress': 3, completed: 4, busy: 4, 'no-answer': 4, canceled: 4, failed: 4 };
const RECORDING_RANK = 5;
// Message statuses, https://www.twilio.com/docs/messaging/api/message-resource#message-status-values
const SMS_RANK: Record<string, number> = { accepted: 0, scheduled: 0, queued: 1, sending: 2, sent: 3, receiving: 3, received: 4, delivered: 4, undelivered: 4, failed: 4, read: 5, canceled: 4 };

const CALL_STATUS: Record<string, CallStatus> = {
  queued: 'ringing',
  initiated: 'ringing',
  ringing: 'ringing',
  'in-progress': 'in-progress',
  completed: 'answered',
  busy: 'busy',
  'no-answer': 'missed',
  canceled: 'missed',
  failed: 'failed',
};

/**
 * X-Twilio-Signature of a request: base64 HMAC-SHA1, keyed with the Auth Token, of the full URL
 * followed by every POST parameter sorted by name as name+value — https://www.twilio.com/docs/usage/security#validating-requests.
 * A repeated parameter contributes each distinct value once, sorted, as twilio-node's
 * validateRequest does (its multi-value vector only matches so).
 */
export function twilioSignature(authToken: string, url: string, params: Readonly<Record<string, string | readonly string[]>>): string {
  const data = Object.keys(params)
    .sort()
    .reduce((acc, name) => {
      const value = params[name] ?? [];
      const values = typeof value === 'string' ? [value] : [...new Set(value)].sort();
      return acc + values.map((v) => name + v).join('');
    }, url);
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}

/** The URL Twilio signed: the configured public URL with the query string as received. */
function signedUrl(publicUrl: string, receivedUrl: string): string {
  const q = receivedUrl.indexOf('?');
  return publicUrl.includes('?') || q < 0 ? publicUrl : publicUrl + receivedUrl.slice(q);
}

// Twilio signs the URL as its client wrote it, with or without a port; twilio-node therefore
// accepts both forms (spec/validation.spec.js), and so do we.
function portVariants(url: string): string[] {
  const m = /^(https?):\/\/([^/?#:]+)(:\d+)?(.*)$/i.exec(url);
  if (!m) return [url];
  const [, scheme = '', host = '', port, rest = ''] = m;
  const withoutPort = `${scheme}://${host}${rest}`;
  const withPort = port ? url : `${scheme}://${host}:${scheme.toLowerCase() === 'https' ? 443 : 80}${rest}`;
  return [...new Set([url, withoutPort, withPort])];
}

function formParams(raw: Buffer): Record<string, string[]> {
  const params: Record<string, string[]> = {};
  for (const [name, value] of new URLSearchParams(raw.toString('utf8'))) (params[name] ??= []).push(value);
  return params;
}

/** Checks X-Twilio-Signature; throws HubError UNAUTHORIZED. */
export function verifyTwilio(settings: { authToken: string; publicUrl: string }, request: WebhookRequest): void {
  const given = header(request, 'x-twilio-signature');
  if (!given) throw new HubError('UNAUTHORIZED', 'missing X-Twilio-Signature');
  const url = signedUrl(settings.publicUrl, request.url);
  let params: Record<string, string[]> = {};
  const bodyHash = new URL(url).searchParams.get('bodySHA256');
  if (bodyHash !== null) {
    // JSON bodies: the URL carries the body's SHA-256 and the signature covers the URL alone (twilio-node validateRequestWithBody).
    if (!safeEqual(createHash('sha256').update(request.rawBody).digest('hex'), bodyHash.toLowerCase())) throw new HubError('UNAUTHORIZED', 'bodySHA256 does not match the body');
  } else if (request.method === 'POST') {
    params = formParams(request.rawBody);
  }
  if (!portVariants(url).some((candidate) => safeEqual(given, twilioSignature(settings.authToken, candidate, params)))) {
    throw new HubError('UNAUTHORIZED', `X-Twilio-Signature does not match ${url} and the parameters; is publicUrl the URL configured in Twilio?`);
  }
}

/** Turns one Twilio request into a call (or message) event. */
export function twilioEvent(params: Record<string, string>): CallEvent {
  const messageSid = params['MessageSid'] ?? params['SmsSid'];
  if (messageSid) {
    const status = params['MessageStatus'] ?? params['SmsStatus'] ?? 'received';
    return { callId: messageSid, key: `${messageSid}:${status}`, order: [SMS_RANK[status] ?? 4], fields: { ...params, _kind: 'sms' } };
  }
  const callSid = params['CallSid'];
  if (!callSid) throw new HubError('VALIDATION', 'not a Twilio voice or messaging webhook: no CallSid or MessageSid');
  const callStatus = params['CallStatus'];
  if (!callStatus) {
    const recordingSid = params['RecordingSid'];
    if (!recordingSid) throw new HubError('VALIDATION', 'Twilio voice webhook without CallStatus or RecordingSid');
    return { callId: callSid, key: `${callSid}:recording:${recordingSid}:${params['RecordingStatus'] ?? ''}`, order: [RECORDING_RANK], fields: { ...params, _kind: 'call' } };
  }
  const sequence = integer(params['SequenceNumber']);
  return {
    callId: callSid,
    key: `${callSid}:${callStatus}:${sequence ?? 'request'}`,
    order: [CALL_RANK[callStatus] ?? 4, sequence ?? -1, millis(params['Timestamp'])],
    fields: { ...params, _kind: 'call' },
  };
}

function hint(direction: string | undefined): 'inbound' | 'outbound' | undefined {
  if (!direction) return undefined;
  return direction === 'inbound' ? 'inbound' : direction.startsWith('outbound') ? 'outbound' : undefined;
}

/** The call (or message) all remembered events of one CallSid (MessageSid) describe. */
export function foldTwilio(events: readonly StoredEvent[], phones: PhoneContext): CallPayload {
  const id = latest(events, 'MessageSid') ?? latest(events, 'SmsSid') ?? latest(events, 'CallSid') ?? '';
  const from = party(latest(events, 'From'), phones, 'e164');
  const to = party(latest(events, 'To'), phones, 'e164');
  if (latest(events, '_kind') === 'sms') {
    const status = latest(events, 'MessageStatus') ?? latest(events, 'SmsStatus') ?? 'received';
    const media = Array.from({ length: integer(latest(events, 'NumMedia')) ?? 0 }, (_, i) => latest(events, `MediaUrl${i}`)).filter((u): u is string => u !== undefined);
    return callPayload({
      provider: 'twilio',
      channel: 'sms',
      id,
      sides: sides(from, to, status === 'received' || status === 'receiving' ? 'inbound' : 'outbound'),
      status,
      startedAt: earliestTime(events.map((e) => e.seenAt)),
      body: latest(events, 'Body'),
      data: compact({ messageSid: id, accountSid: latest(events, 'AccountSid'), messagingServiceSid: latest(events, 'MessagingServiceSid'), numSegments: integer(latest(events, 'NumSegments')), mediaUrls: media.length > 0 ? media : undefined }),
    });
  }
  const twilioStatus = latest(events, 'CallStatus') ?? 'ringing';
  const status = CALL_STATUS[twilioStatus] ?? 'in-progress';
  const timestamps = events.map((e) => e.fields['Timestamp']);
  return callPayload({
    provider: 'twilio',
    id,
    sides: sides(from, to, hint(latest(events, 'Direction'))),
    status,
    missed: status === 'missed' || status === 'busy',
    startedAt: earliestTime(timestamps) ?? earliestTime(events.map((e) => e.seenAt)),
    durationSec: integer(latest(events, 'CallDuration')) ?? (CALL_RANK[twilioStatus] === 4 && status !== 'answered' ? 0 : undefined),
    recordingUrl: latest(events, 'RecordingUrl'),
    data: compact({
      callSid: id,
      accountSid: latest(events, 'AccountSid'),
      parentCallSid: latest(events, 'ParentCallSid'),
      twilioStatus,
      answeredBy: latest(events, 'AnsweredBy'),
      sipResponseCode: latest(events, 'SipResponseCode'),
      callerName: latest(events, 'CallerName'),
      recordingSid: latest(events, 'RecordingSid'),
      recordingDurationSec: integer(latest(events, 'RecordingDuration')),
    }),
  });
}

/**
 * Twilio Programmable Voice and Messaging: status callbacks (and the incoming-call and incoming-message
 * webhooks) become one `call` or `sms` interaction per CallSid / MessageSid, updated as events come.
 */
export const twilioConnector = defineConnector({
  type: 'twilio',
  version: 1,
  description: 'Twilio voice status callbacks and SMS webhooks (X-Twilio-Signature)',
  settingsSchema: Settings,
  mappings: [callMapping('twilio', 'Twilio calls and messages: one interaction per CallSid or MessageSid, linked to the customer by phone')],
  webhook: {
    verify(ctx, request) {
      verifyTwilio(ctx.settings, request);
    },
    accept(_ctx, request) {
      // StatusCallbackMethod=GET puts the parameters in the query string.
      const params = formFields(request.method === 'GET' ? request.query : request.body, 'Twilio webhook');
      const event = twilioEvent(params);
      // An empty <Response/> leaves a status callback or message alone; as the answer to an incoming
      // call it ends the call, so crm-hub belongs in the status callback URL (see docs/connectors/telephony.md).
      return { events: [{ id: event.key, payload: event }], reply: EMPTY_TWIML };
    },
  },
  async prepare(ctx, event) {
    const events = await rememberCallEvent(ctx.memory, readCallEvent(event.payload), { log: ctx.log });
    return [foldTwilio(events, phoneContext(ctx.settings, 'e164'))];
  },
});
