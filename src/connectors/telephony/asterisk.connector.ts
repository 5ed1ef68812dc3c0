import { Type } from 'typebox';
import { HubError } from '../../core/errors.js';
import { defineConnector, type WebhookRequest } from '../connector.js';
import { webhookConnector } from '../webhook/webhook.connector.js';
import { earliest, latest, readCallEvent, rememberCallEvent, type CallEvent, type StoredEvent } from './call-memory.js';
import { callMapping, callPayload, compact, flatten, integer, type CallPayload, type CallStatus } from './call.js';
import { PhoneSettings, party, phoneContext, sides, type PhoneContext } from './phones.js';

const generic = webhookConnector.webhook;
if (!generic) throw new Error('the generic webhook connector has no webhook verification to reuse');

const Settings = Type.Object(
  {
    // The generic webhook connector's own signature settings: HMAC-SHA256 of the raw body, or Standard Webhooks.
    signature: webhookConnector.settingsSchema.properties.signature,
    timeZoneOffset: Type.String({
      pattern: '^[+-]\\d{2}:\\d{2}$',
      default: '+00:00',
      description: 'UTC offset of the PBX clock: CDR times (StartTime …) carry no zone',
    }),
    ...PhoneSettings,
  },
  { additionalProperties: false },
);

// Cdr Disposition values, https://docs.asterisk.org/Asterisk_20_Documentation/API_Documentation/AMI_Events/Cdr
const DISPOSITION: Record<string, CallStatus> = { ANSWERED: 'answered', 'NO ANSWER': 'missed', BUSY: 'busy', FAILED: 'failed', CONGESTION: 'failed' };

/** An AMI event as the manager interface writes it: "Key: Value" lines; keys in lower case. */
export function parseAmi(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    fields[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return fields;
}

/** The CDR a sidecar posted: a JSON object with the AMI field names (any case), or the AMI text itself. */
function cdrFields(request: WebhookRequest): Record<string, string> {
  if (request.body !== undefined) {
    if (request.body === null || typeof request.body !== 'object' || Array.isArray(request.body)) throw new HubError('VALIDATION', 'post a Cdr event as a JSON object or as AMI text');
    return Object.fromEntries(Object.entries(flatten(request.body, 1)).map(([k, v]) => [k.toLowerCase(), v]));
  }
  return parseAmi(request.rawBody.toString('utf8'));
}

/** CDR time ("2026-11-20 10:15:00", the PBX's local time) in milliseconds; 0 when there is none. */
function cdrTime(value: string | undefined, offset: string): number {
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})/.exec(value?.trim() ?? '');
  const ms = m ? Date.parse(`${m[1]}T${m[2]}${offset}`) : Number.NaN;
  return Number.isNaN(ms) ? 0 : ms;
}

/** Turns one Cdr event into a call event; null for other AMI events a sidecar passes on. */
export function asteriskEvent(fields: Record<string, string>, timeZoneOffset: string): CallEvent | null {
  if (fields['event'] !== undefined && fields['event'].toLowerCase() !== 'cdr') return null;
  const uniqueId = fields['uniqueid'];
  if (!uniqueId) throw new HubError('VALIDATION', 'Cdr event without UniqueID');
  // One call can leave several CDRs (one per dialled channel); LinkedID, when the sidecar sends it, ties them together.
  const callId = fields['linkedid'] || uniqueId;
  return { callId, key: `${callId}:cdr:${uniqueId}`, order: [cdrTime(fields['starttime'], timeZoneOffset), cdrTime(fields['endtime'], timeZoneOffset)], fields };
}

/** The call all CDRs of one LinkedID (or the one CDR of a UniqueID) describe. */
export function foldAsterisk(events: readonly StoredEvent[], phones: PhoneContext, timeZoneOffset: string): CallPayload {
  const answered = events.filter((e) => e.fields['disposition']?.toUpperCase() === 'ANSWERED');
  const disposition = (answered.length > 0 ? 'ANSWERED' : latest(events, 'disposition'))?.toUpperCase();
  const status: CallStatus = DISPOSITION[disposition ?? ''] ?? 'failed';
  // The first CDR is the caller's leg: Source called Destination (an extension, a DID, or a dialled number).
  const from = party(earliest(events, 'source'), phones, 'intl-digits');
  const to = party(earliest(events, 'destination'), phones, 'intl-digits');
  const billable = answered.map((e) => integer(e.fields['billableseconds']) ?? 0);
  const start = Math.min(...events.map((e) => cdrTime(e.fields['starttime'], timeZoneOffset)).filter((t) => t > 0));
  const callId = latest(events, 'linkedid') ?? latest(events, 'uniqueid') ?? '';
  const uniqueIds = events.map((e) => e.fields['uniqueid']).filter((u): u is string => !!u);
  return callPayload({
    provider: 'asterisk',
    id: callId,
    sides: sides(from, to),
    status,
    missed: status === 'missed' || status === 'busy',
    startedAt: Number.isFinite(start) ? new Date(start).toISOString() : undefined,
    durationSec: billable.length > 0 ? Math.max(...billable) : 0,
    recordingUrl: latest(events, 'recordingurl'),
    data: compact({
      uniqueIds,
      disposition,
      callerId: earliest(events, 'callerid'),
      channel: earliest(events, 'channel'),
      destinationChannel: latest(events, 'destinationchannel'),
      destinationContext: earliest(events, 'destinationcontext'),
      accountCode: latest(events, 'accountcode'),
      userField: latest(events, 'userfield'),
    }),
  });
}

/**
 * Asterisk/FreePBX through a small sidecar that forwards AMI `Cdr` events (cdr_manager), signed like
 * the generic webhook connector (whose verification it reuses). One `call` interaction per
 * LinkedID or UniqueID. A type of its own rather than a mapping for the generic connector, because
 * who the customer is depends on the configured company numbers, which a mapping cannot see.
 */
export const asteriskConnector = defineConnector({
  type: 'asterisk',
  version: 1,
  description: 'Asterisk/FreePBX AMI Cdr events from a sidecar (HMAC-SHA256 or Standard Webhooks)',
  settingsSchema: Settings,
  mappings: [callMapping('asterisk', 'Asterisk CDRs: one interaction per LinkedID or UniqueID, linked to the customer by phone')],
  webhook: {
    async verify(ctx, request) {
      try {
        await generic.verify({ ...ctx, settings: { signature: ctx.settings.signature } }, request);
      } catch (err) {
        // standardwebhooks' verify() JSON-parses the body once a signature matched (the generic
        // connector does not pass { jsonParse: false }), so a signed AMI text body ends in a SyntaxError.
        if (err instanceof SyntaxError && ctx.settings.signature.scheme === 'standard-webhooks') return;
        throw err;
      }
    },
    accept(ctx, request) {
      if (request.method !== 'POST') throw new HubError('VALIDATION', 'post a Cdr event');
      const event = asteriskEvent(cdrFields(request), ctx.settings.timeZoneOffset);
      return { events: event ? [{ id: event.key, payload: event }] : [] };
    },
  },
  async prepare(ctx, event) {
    const events = await rememberCallEvent(ctx.memory, readCallEvent(event.payload), { log: ctx.log });
    return [foldAsterisk(events, phoneContext(ctx.settings, 'intl-digits'), ctx.settings.timeZoneOffset)];
  },
});
