import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { Type } from 'typebox';
import { HubError } from '../../core/errors.js';
import { defineConnector, type WebhookRequest } from '../connector.js';
import { earliest, latest, readCallEvent, rememberCallEvent, type CallEvent, type StoredEvent } from './call-memory.js';
import { callMapping, callPayload, compact, earliestTime, flatten, header, integer, millis, safeEqual, type CallPayload, type CallStatus } from './call.js';
import { PhoneSettings, party, phoneContext, sides, type PhoneContext } from './phones.js';

const Settings = Type.Object(
  {
    signatureSecret: Type.String({ minLength: 16, description: 'the signature secret of the Vonage account (Dashboard → Settings), not the API secret; use ${ENV_VAR}' }),
    maxTokenAgeSeconds: Type.Integer({
      minimum: 60,
      default: 3600,
      description: 'oldest accepted token (iat); a replayed event changes nothing anyway, so this only bounds replays',
    }),
    ...PhoneSettings,
  },
  { additionalProperties: false },
);

const CLOCK_SKEW_SECONDS = 60;

function jsonObject(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * Verifies the JWT Vonage signs webhooks with: HS256 keyed with the account's signature secret
 * (Vonage Ruby SDK `verify_webhook_token`, https://github.com/Vonage/vonage-ruby-sdk/pull/291), fresh by `iat`/`exp`/`nbf`, and, when it carries
 * `payload_hash`, bound to the body (hex SHA-256). Returns the claims; throws HubError UNAUTHORIZED.
 */
export function verifyVonageJwt(token: string, secret: string, rawBody: Buffer, options: { nowSeconds: number; maxAgeSeconds: number }): Record<string, unknown> {
  const parts = token.split('.');
  const [head = '', body = '', signature = ''] = parts;
  if (parts.length !== 3 || !parts.every((p) => /^[A-Za-z0-9_-]+$/.test(p))) throw new HubError('UNAUTHORIZED', 'the bearer token is not a JWT');
  // The algorithm is fixed here, never taken from the token ("alg": "none" and friends).
  if (jsonObject(Buffer.from(head, 'base64url').toString('utf8'))?.['alg'] !== 'HS256') throw new HubError('UNAUTHORIZED', 'the JWT is not HS256');
  const expected = createHmac('sha256', secret).update(`${head}.${body}`).digest();
  const actual = Buffer.from(signature, 'base64url');
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) throw new HubError('UNAUTHORIZED', 'the JWT signature does not match the signature secret');
  const claims = jsonObject(Buffer.from(body, 'base64url').toString('utf8'));
  if (!claims) throw new HubError('UNAUTHORIZED', 'the JWT claims are not a JSON object');
  const { nowSeconds: now, maxAgeSeconds } = options;
  const { iat, exp, nbf, payload_hash: payloadHash } = claims;
  if (typeof iat !== 'number') throw new HubError('UNAUTHORIZED', 'the JWT has no iat');
  if (iat > now + CLOCK_SKEW_SECONDS) throw new HubError('UNAUTHORIZED', 'the JWT is issued in the future');
  if (now - iat > maxAgeSeconds) throw new HubError('UNAUTHORIZED', `the JWT is older than ${maxAgeSeconds} s`);
  if (typeof exp === 'number' && now > exp + CLOCK_SKEW_SECONDS) throw new HubError('UNAUTHORIZED', 'the JWT has expired');
  if (typeof nbf === 'number' && now + CLOCK_SKEW_SECONDS < nbf) throw new HubError('UNAUTHORIZED', 'the JWT is not valid yet');
  if (payloadHash !== undefined) {
    if (typeof payloadHash !== 'string' || !safeEqual(payloadHash.toLowerCase(), createHash('sha256').update(rawBody).digest('hex'))) {
      throw new HubError('UNAUTHORIZED', 'payload_hash does not match the body');
    }
  }
  return claims;
}

export function verifyVonage(settings: { signatureSecret: string; maxTokenAgeSeconds: number }, request: WebhookRequest, nowSeconds = Date.now() / 1000): void {
  const auth = header(request, 'authorization') ?? '';
  const m = /^Bearer\s+(\S+)$/i.exec(auth);
  if (!m?.[1]) throw new HubError('UNAUTHORIZED', 'missing Authorization: Bearer <JWT>');
  verifyVonageJwt(m[1], settings.signatureSecret, request.rawBody, { nowSeconds, maxAgeSeconds: settings.maxTokenAgeSeconds });
}

// Event webhook statuses in the order a call lives them (https://developer.vonage.com/en/voice/voice-api/webhook-reference#event-webhook).
const RANK: Record<string, number> = {
  started: 0,
  ringing: 1,
  answered: 2,
  human: 3,
  machine: 3,
  disconnected: 4,
  busy: 5,
  cancelled: 5,
  unanswered: 5,
  rejected: 5,
  failed: 5,
  timeout: 5,
  completed: 6,
};
const RECORD_RANK = 7;
const NOT_CONNECTED: Record<string, CallStatus> = { busy: 'busy', cancelled: 'missed', unanswered: 'missed', timeout: 'missed', rejected: 'failed', failed: 'failed' };

/** Turns one Vonage event webhook into a call event; null for events that are not about the call's state (input, transfer …). */
export function vonageEvent(body: unknown): CallEvent | null {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new HubError('VALIDATION', 'a Vonage event is a JSON object');
  const fields = flatten(body, 1);
  const conversation = fields['conversation_uuid'] ?? fields['uuid'];
  if (!conversation) throw new HubError('VALIDATION', 'Vonage event without conversation_uuid or uuid');
  const status = fields['status'];
  if (status && RANK[status] !== undefined) {
    return { callId: conversation, key: `${conversation}:${fields['uuid'] ?? ''}:${status}:${fields['timestamp'] ?? ''}`, order: [RANK[status] ?? 0, millis(fields['timestamp'])], fields };
  }
  if (fields['recording_url']) {
    return { callId: conversation, key: `${conversation}:record:${fields['recording_uuid'] ?? fields['recording_url']}`, order: [RECORD_RANK, millis(fields['timestamp'])], fields };
  }
  return null;
}

/** The call all remembered events of one conversation_uuid describe, seen from its first leg. */
export function foldVonage(events: readonly StoredEvent[], phones: PhoneContext): CallPayload {
  const statusEvents = events.filter((e) => e.fields['status'] !== undefined);
  // The leg that began first is the customer's call; later legs (connect to an agent) belong to it.
  const first = [...statusEvents].sort((a, b) => millis(a.fields['timestamp']) - millis(b.fields['timestamp']))[0];
  const primary = first?.fields['uuid'];
  const leg = statusEvents.filter((e) => e.fields['uuid'] === primary);
  const seen = new Set(leg.map((e) => e.fields['status']));
  const direction = latest(leg, 'direction');
  const from = party(latest(leg, 'from'), phones, 'intl-digits');
  const to = party(latest(leg, 'to'), phones, 'intl-digits');
  const completed = seen.has('completed');
  const duration = integer(latest(leg, 'duration'));
  const answered = seen.has('answered') || seen.has('human') || (completed && (duration ?? 0) > 0);
  const failure = [...seen].map((s) => (s ? NOT_CONNECTED[s] : undefined)).find((s) => s !== undefined);
  const status: CallStatus = answered ? (completed ? 'answered' : 'in-progress') : (failure ?? (completed ? 'missed' : 'ringing'));
  const ended = completed || failure !== undefined;
  const conversation = latest(events, 'conversation_uuid') ?? primary ?? '';
  const legs = [...new Set(statusEvents.map((e) => e.fields['uuid']).filter((u): u is string => !!u))];
  return callPayload({
    provider: 'vonage',
    id: conversation,
    sides: sides(from, to, direction === 'inbound' ? 'inbound' : direction === 'outbound' ? 'outbound' : undefined),
    status,
    missed: status === 'missed' || status === 'busy',
    startedAt: earliestTime([earliest(leg, 'start_time'), earliest(leg, 'timestamp')]),
    durationSec: duration ?? (ended && !answered ? 0 : undefined),
    // Fetching it needs an application JWT (Vonage .NET SDK test data, Record.json).
    recordingUrl: latest(events, 'recording_url'),
    data: compact({
      conversationUuid: conversation,
      uuid: primary,
      legs: legs.length > 1 ? legs : undefined,
      vonageStatus: latest(leg, 'status'),
      sipCode: latest(leg, 'sip_code'),
      disconnectedBy: latest(leg, 'disconnected_by'),
      price: latest(leg, 'price'),
      rate: latest(leg, 'rate'),
      network: latest(leg, 'network'),
      recordingUuid: latest(events, 'recording_uuid'),
    }),
  });
}

/**
 * Vonage Voice API event webhooks (signed JWT): the statuses of a call's legs and its recording
 * become one `call` interaction per conversation_uuid.
 */
export const vonageConnector = defineConnector({
  type: 'vonage',
  version: 1,
  description: 'Vonage Voice event webhooks (JWT HS256 with the signature secret, payload_hash)',
  settingsSchema: Settings,
  mappings: [callMapping('vonage', 'Vonage calls: one interaction per conversation_uuid, linked to the customer by phone')],
  webhook: {
    verify(ctx, request) {
      verifyVonage(ctx.settings, request);
    },
    accept(_ctx, request) {
      if (request.method !== 'POST') throw new HubError('VALIDATION', 'crm-hub takes the Vonage event webhook (POST JSON); keep answer_url on your call-control app');
      const event = vonageEvent(request.body);
      return { events: event ? [{ id: event.key, payload: event }] : [], reply: { status: 200, contentType: 'application/json', body: '{}' } };
    },
  },
  async prepare(ctx, event) {
    const events = await rememberCallEvent(ctx.memory, readCallEvent(event.payload), { log: ctx.log });
    return [foldVonage(events, phoneContext(ctx.settings, 'intl-digits'))];
  },
});
