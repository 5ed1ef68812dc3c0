import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ConnectorContext, ConnectorMemory, WebhookRequest } from '../../src/connectors/connector.js';
import { twilioConnector, twilioEvent, twilioSignature, verifyTwilio } from '../../src/connectors/telephony/twilio.connector.js';
import { createLogger } from '../../src/core/logger.js';
import { compileMapping } from '../../src/mappings/compile.js';

type Vector = { name: string; auth_token: string; url: string; params: Record<string, string | string[]>; raw_body?: string; expected_signature: string };
const fixtures = new URL('../../../shared/fixtures/', import.meta.url);
const vectors = (JSON.parse(readFileSync(new URL('twilio_signature_vectors.json', fixtures), 'utf8')) as { vectors: Vector[] }).vectors;
// The fixture holds one status callback as a query string, after two comment lines.
const statusQuery = readFileSync(new URL('twilio_voice_status.txt', fixtures), 'utf8').split('\n').find((l) => l.startsWith('Called=')) ?? '';
const statusParams = Object.fromEntries(new URLSearchParams(statusQuery));

const mapping = compileMapping(twilioConnector.mappings[0]!);

function memory(): ConnectorMemory {
  const raw = new Map<string, string>();
  return {
    get: async (key) => (raw.has(key) ? (JSON.parse(raw.get(key)!) as unknown) : undefined),
    set: async (key, value) => void raw.set(key, JSON.stringify(value)),
  };
}

type Settings = { authToken: string; publicUrl: string; companyNumbers: string[]; defaultCountry: string };
function context(settings: Partial<Settings> = {}): ConnectorContext<Settings> {
  return {
    id: 'twilio',
    settings: { authToken: 'twilio-auth-token-0123456789', publicUrl: 'https://crm.example.com/v1/webhooks/twilio', companyNumbers: ['+1 (510) 757-1675'], defaultCountry: 'US', ...settings },
    log: createLogger({ level: 'silent' }),
    http: () => {
      throw new Error('no HTTP in these tests');
    },
    memory: memory(),
  };
}

/** Runs deliveries through accept and prepare, in the order given, and maps the last merged call. */
async function deliver(ctx: ConnectorContext<Settings>, ...deliveries: Record<string, string>[]) {
  let payloads: unknown[] = [];
  for (const params of deliveries) {
    const request: WebhookRequest = { method: 'POST', url: 'http://127.0.0.1/v1/webhooks/twilio', headers: {}, query: {}, rawBody: Buffer.from(new URLSearchParams(params).toString()), body: params };
    const accepted = await twilioConnector.webhook!.accept(ctx, request);
    for (const event of accepted.events) payloads = await twilioConnector.prepare!(ctx, event);
  }
  return mapping.apply(payloads[0]);
}

function formBody(params: Record<string, string | string[]>): string {
  const form = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) for (const v of typeof value === 'string' ? [value] : value) form.append(name, v);
  return form.toString();
}

/** A delivery of a vector as it reaches the hub: the vector's query string, its form (or JSON) body. */
function vectorRequest(v: Vector, signature: string, tamper?: (r: { body: string; query: string }) => void): WebhookRequest {
  const parts = { body: v.raw_body ?? formBody(v.params), query: v.url.slice(v.url.indexOf('?')) };
  tamper?.(parts);
  return { method: 'POST', url: `http://127.0.0.1:3000/v1/webhooks/twilio${parts.query}`, headers: { 'x-twilio-signature': signature }, query: {}, rawBody: Buffer.from(parts.body), body: undefined };
}
const publicUrlOf = (v: Vector) => v.url.slice(0, v.url.indexOf('?'));

describe('Twilio X-Twilio-Signature', () => {
  it.each(vectors.map((v) => [v.name, v] as const))('computes the vector %s', (_name, v) => {
    expect(twilioSignature(v.auth_token, v.url, v.params)).toBe(v.expected_signature);
  });

  it.each(vectors.map((v) => [v.name, v] as const))('accepts the delivery of vector %s against the public URL, and refuses it tampered', (_name, v) => {
    const settings = { authToken: v.auth_token, publicUrl: publicUrlOf(v) };
    expect(() => verifyTwilio(settings, vectorRequest(v, v.expected_signature))).not.toThrow();
    const tampered = vectorRequest(v, v.expected_signature, (r) => {
      if (v.raw_body) r.body = r.body.replace('value', 'valuE');
      else r.body = r.body.replace('1234', '1235');
    });
    expect(() => verifyTwilio(settings, tampered)).toThrow(/does not match/);
    expect(() => verifyTwilio({ ...settings, authToken: '54321' }, vectorRequest(v, v.expected_signature))).toThrow(/does not match/);
    expect(() => verifyTwilio({ ...settings, publicUrl: 'https://other.example.com/myapp.php' }, vectorRequest(v, v.expected_signature))).toThrow(/does not match/);
    const noHeader = vectorRequest(v, v.expected_signature);
    noHeader.headers = {};
    expect(() => verifyTwilio(settings, noHeader)).toThrow(/missing X-Twilio-Signature/);
  });

  it('accepts a signature made with or without the port, as twilio-node does', () => {
    const v = vectors[1]!;
    const check = (publicUrl: string, signature: string) => () => verifyTwilio({ authToken: v.auth_token, publicUrl }, vectorRequest(v, signature));
    // The signatures from the vector's notes: https with :1234 stripped, http with :1234 kept, :443 and :80 added.
    expect(check('https://mycompany.com:1234/myapp.php', 'RSOYDt4T1cUTdK1PDd93/VVr8B8=')).not.toThrow();
    expect(check('http://mycompany.com:1234/myapp.php', 'Zmvh+3yNM1Phv2jhDCwEM3q5ebU=')).not.toThrow();
    expect(check('https://mycompany.com/myapp.php', 'kvajT1Ptam85bY51eRf/AJRuM3w=')).not.toThrow();
    expect(check('http://mycompany.com/myapp.php', '0ZXoZLH/DfblKGATFgpif+LLRf4=')).not.toThrow();
    expect(check('http://mycompany.com/myapp.php', 'kvajT1Ptam85bY51eRf/AJRuM3w=')).toThrow(/does not match/);
  });
});

describe('Twilio calls and messages', () => {
  it('maps the status callback fixture to one answered outbound call with the callee as the customer', async () => {
    const { records, errors } = await deliver(context(), statusParams);
    expect(errors).toEqual([]);
    expect(records).toEqual([
      {
        kind: 'interaction',
        source: 'twilio',
        sourceId: 'CAf19604a3eec3e63d157870c5f7f3b3a0',
        occurredAt: '1989-07-20T18:30:43.000Z',
        identifiers: { phones: ['+15005550006'] },
        interaction: {
          channel: 'call',
          direction: 'outbound',
          status: 'answered',
          durationSec: 42,
          data: {
            missed: false,
            companyNumber: '+15107571675',
            callSid: 'CAf19604a3eec3e63d157870c5f7f3b3a0',
            accountSid: 'AC8d88ba5085adeac4015ea92ec9a81ded',
            twilioStatus: 'completed',
            answeredBy: 'human',
          },
        },
      },
    ]);
  });

  it('goes by Twilio’s Direction when no company number is configured', async () => {
    const { records } = await deliver(context({ companyNumbers: [] }), statusParams);
    expect(records[0]).toMatchObject({ identifiers: { phones: ['+15005550006'] }, interaction: { direction: 'outbound' } });
  });

  it('ends in the final state when the final callback arrives before an earlier one', async () => {
    const ringing = { ...statusParams, CallStatus: 'ringing', SequenceNumber: '0', Timestamp: 'Thu, 20 Jul 1989 18:29:50 +0000' };
    delete (ringing as Record<string, string | undefined>)['CallDuration'];
    const completed = { ...statusParams, SequenceNumber: '2' };
    const inOrder = await deliver(context(), ringing, completed);
    const reversed = await deliver(context(), completed, ringing);
    expect(reversed.records).toEqual(inOrder.records);
    expect(reversed.records[0]).toMatchObject({ occurredAt: '1989-07-20T18:29:50.000Z', interaction: { status: 'answered', durationSec: 42 } });
  });

  it.each([
    ['no-answer', 'missed'],
    ['canceled', 'missed'],
    ['busy', 'busy'],
    ['failed', 'failed'],
  ])('marks a call that ended %s as %s, with no duration', async (callStatus, status) => {
    const { records } = await deliver(context(), { ...statusParams, CallStatus: callStatus, CallDuration: '0', SipResponseCode: '486' });
    expect(records[0]?.interaction).toMatchObject({ status, durationSec: 0, data: { missed: status !== 'failed', twilioStatus: callStatus, sipResponseCode: '486' } });
  });

  it('merges the incoming-call webhook, status callbacks and the recording callback into one inbound call', async () => {
    const base = { CallSid: 'CA0001', AccountSid: 'AC1', From: '+79161234567', To: '+15107571675', Direction: 'inbound', ApiVersion: '2010-04-01' };
    const { records } = await deliver(
      context(),
      { ...base, CallStatus: 'ringing', CallerName: 'IVAN PETROV' },
      { ...base, CallStatus: 'completed', CallbackSource: 'call-progress-events', SequenceNumber: '1', CallDuration: '95', Timestamp: 'Fri, 20 Nov 2026 10:16:35 +0000' },
      { CallSid: 'CA0001', AccountSid: 'AC1', RecordingSid: 'RE1', RecordingStatus: 'completed', RecordingUrl: 'https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1', RecordingDuration: '90' },
    );
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      sourceId: 'CA0001',
      identifiers: { phones: ['+79161234567'] },
      interaction: {
        channel: 'call',
        direction: 'inbound',
        status: 'answered',
        durationSec: 95,
        data: { missed: false, recordingUrl: 'https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1', recordingSid: 'RE1', recordingDurationSec: 90, callerName: 'IVAN PETROV' },
      },
    });
  });

  it('makes no record for a call from a withheld number', async () => {
    const { records } = await deliver(context(), { CallSid: 'CA0002', From: '+266696687', To: '+15107571675', Direction: 'inbound', CallStatus: 'no-answer' });
    expect(records).toEqual([]);
  });

  it('maps an incoming SMS to an sms interaction with its text', async () => {
    const { records } = await deliver(context(), {
      MessageSid: 'SM0001',
      SmsSid: 'SM0001',
      AccountSid: 'AC1',
      From: '+79161234567',
      To: '+15107571675',
      Body: 'Перезвоните мне, пожалуйста',
      NumMedia: '1',
      MediaUrl0: 'https://api.twilio.com/media/ME1',
      SmsStatus: 'received',
    });
    expect(records).toEqual([
      expect.objectContaining({
        source: 'twilio',
        sourceId: 'SM0001',
        identifiers: { phones: ['+79161234567'] },
        interaction: { channel: 'sms', direction: 'inbound', status: 'received', body: 'Перезвоните мне, пожалуйста', data: expect.objectContaining({ messageSid: 'SM0001', mediaUrls: ['https://api.twilio.com/media/ME1'] }) },
      }),
    ]);
  });

  it('answers with empty TwiML, reads GET callbacks from the query, and refuses what is not a Twilio webhook', async () => {
    const ctx = context();
    const get: WebhookRequest = { method: 'GET', url: `http://127.0.0.1/v1/webhooks/twilio?${statusQuery}`, headers: {}, query: statusParams, rawBody: Buffer.alloc(0), body: undefined };
    const accepted = await twilioConnector.webhook!.accept(ctx, get);
    expect(accepted.reply).toEqual({ status: 200, contentType: 'text/xml', body: '<?xml version="1.0" encoding="UTF-8"?><Response></Response>' });
    expect(accepted.events.map((e) => e.id)).toEqual(['CAf19604a3eec3e63d157870c5f7f3b3a0:completed:0']);
    expect(() => twilioEvent({ From: '+79161234567' })).toThrow(/no CallSid or MessageSid/);
  });
});
