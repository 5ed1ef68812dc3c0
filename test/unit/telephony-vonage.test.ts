import { createHash, createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ConnectorContext, ConnectorMemory, WebhookRequest } from '../../src/connectors/connector.js';
import { verifyVonage, verifyVonageJwt, vonageConnector } from '../../src/connectors/telephony/vonage.connector.js';
import { createLogger } from '../../src/core/logger.js';
import { compileMapping } from '../../src/mappings/compile.js';

const fixtures = new URL('../../../shared/fixtures/', import.meta.url);
function json(name: string): Record<string, unknown> {
  const { _source: _ignored, ...event } = JSON.parse(readFileSync(new URL(name, fixtures), 'utf8')) as Record<string, unknown>;
  return event;
}
const completed = json('vonage_voice_event_completed.json');
const answered = json('vonage_voice_event_answered.json');
const record = json('vonage_voice_event_record.json');
// The tutorial logged the events as JavaScript objects ({ from: '…' }); turned into JSON here.
const inbound = readFileSync(new URL('vonage_voice_event_ringing_inbound.txt', fixtures), 'utf8')
  .split('\n')
  .filter((l) => l.startsWith('{'))
  .map((l) => JSON.parse(l.replace(/([{,]\s*)([A-Za-z_]+):/g, '$1"$2":').replace(/'/g, '"')) as Record<string, unknown>);

const SECRET = 'vonage-signature-secret-0123456789';
const mapping = compileMapping(vonageConnector.mappings[0]!);
const now = () => Math.floor(Date.now() / 1000);

/** An HS256 JWT as Vonage signs webhooks with, minted here (there is no official vector). */
function mintJwt(claims: Record<string, unknown>, secret = SECRET, alg = 'HS256'): string {
  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const head = b64({ alg, typ: 'JWT' });
  const body = b64(claims);
  return `${head}.${body}.${createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url')}`;
}
const claimsFor = (raw: string, extra: Record<string, unknown> = {}) => ({
  iat: now(),
  jti: randomUUID(),
  iss: 'Vonage',
  application_id: 'aaaaaaaa-bbbb-cccc-dddd-0123456789ab',
  payload_hash: createHash('sha256').update(raw).digest('hex'),
  ...extra,
});

function memory(): ConnectorMemory {
  const raw = new Map<string, string>();
  return {
    get: async (key) => (raw.has(key) ? (JSON.parse(raw.get(key)!) as unknown) : undefined),
    set: async (key, value) => void raw.set(key, JSON.stringify(value)),
  };
}

type Settings = { signatureSecret: string; maxTokenAgeSeconds: number; companyNumbers: string[]; defaultCountry: string };
function context(companyNumbers: string[] = []): ConnectorContext<Settings> {
  return {
    id: 'vonage',
    settings: { signatureSecret: SECRET, maxTokenAgeSeconds: 3600, companyNumbers, defaultCountry: 'RU' },
    log: createLogger({ level: 'silent' }),
    http: () => {
      throw new Error('no HTTP in these tests');
    },
    memory: memory(),
  };
}

function request(event: object, token?: string): WebhookRequest {
  const raw = JSON.stringify(event);
  return {
    method: 'POST',
    url: 'http://127.0.0.1/v1/webhooks/vonage',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token ?? mintJwt(claimsFor(raw))}` },
    query: {},
    rawBody: Buffer.from(raw),
    body: JSON.parse(raw) as unknown,
  };
}

async function deliver(ctx: ConnectorContext<Settings>, ...events: object[]) {
  let payloads: unknown[] = [];
  for (const e of events) {
    const r = request(e);
    vonageConnector.webhook!.verify(ctx, r);
    const accepted = await vonageConnector.webhook!.accept(ctx, r);
    for (const event of accepted.events) payloads = await vonageConnector.prepare!(ctx, event);
  }
  return mapping.apply(payloads[0]);
}

describe('Vonage signed webhooks (JWT HS256)', () => {
  const raw = JSON.stringify(completed);
  const verify = (token: string, body = raw) => () => verifyVonageJwt(token, SECRET, Buffer.from(body), { nowSeconds: now(), maxAgeSeconds: 3600 });

  it('accepts a token signed with the signature secret whose payload_hash matches the body', () => {
    expect(verify(mintJwt(claimsFor(raw)))).not.toThrow();
    expect(verify(mintJwt({ iat: now() }))).not.toThrow();
  });

  it('refuses another secret, a changed body, a changed token, and a token that is not HS256', () => {
    expect(verify(mintJwt(claimsFor(raw), 'another-signature-secret-000'))).toThrow(/signature does not match/);
    expect(verify(mintJwt(claimsFor(raw)), raw.replace('"2"', '"20"'))).toThrow(/payload_hash/);
    const [head, , sig] = mintJwt(claimsFor(raw)).split('.');
    const forged = Buffer.from(JSON.stringify({ ...claimsFor(raw), iat: now() + 1 })).toString('base64url');
    expect(verify(`${head}.${forged}.${sig}`)).toThrow(/signature does not match/);
    expect(verify(mintJwt(claimsFor(raw), SECRET, 'none'))).toThrow(/not HS256/);
    expect(verify('not.a-jwt')).toThrow(/not a JWT/);
  });

  it('refuses expired, stale, future and undated tokens', () => {
    expect(verify(mintJwt(claimsFor(raw, { iat: now() - 600, exp: now() - 300 })))).toThrow(/expired/);
    expect(verify(mintJwt(claimsFor(raw, { iat: now() - 7200 })))).toThrow(/older than 3600 s/);
    expect(verify(mintJwt(claimsFor(raw, { iat: now() + 3600 })))).toThrow(/future/);
    expect(verify(mintJwt(claimsFor(raw, { iat: undefined })))).toThrow(/no iat/);
  });

  it('wants the token as a Bearer Authorization header', () => {
    const settings = { signatureSecret: SECRET, maxTokenAgeSeconds: 3600 };
    expect(() => verifyVonage(settings, request(completed))).not.toThrow();
    const r = request(completed);
    r.headers = { authorization: 'Basic abc' };
    expect(() => verifyVonage(settings, r)).toThrow(/Bearer/);
  });
});

describe('Vonage calls', () => {
  it('maps the completed fixture to an answered outbound call of 2 s to the callee', async () => {
    const { records, errors } = await deliver(context(['442079460000']), completed);
    expect(errors).toEqual([]);
    expect(records).toEqual([
      {
        kind: 'interaction',
        source: 'vonage',
        sourceId: 'CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab',
        occurredAt: '2020-01-01T12:00:00.000Z',
        identifiers: { phones: ['+447700900000'] },
        interaction: {
          channel: 'call',
          direction: 'outbound',
          status: 'answered',
          durationSec: 2,
          data: {
            missed: false,
            companyNumber: '+442079460000',
            conversationUuid: 'CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab',
            uuid: 'aaaaaaaa-bbbb-cccc-dddd-0123456789ab',
            vonageStatus: 'completed',
            sipCode: '404',
            disconnectedBy: 'user',
            price: '0.03',
            rate: '0.02',
            network: '1234',
          },
        },
      },
    ]);
  });

  it('maps the answered fixture to a call in progress', async () => {
    const { records } = await deliver(context(), answered);
    expect(records[0]?.interaction).toMatchObject({ status: 'in-progress', direction: 'outbound' });
  });

  it('keeps the completed state and adds the recording whatever order answered, record and completed arrive in', async () => {
    const inOrder = await deliver(context(), answered, completed, record);
    const shuffled = await deliver(context(), record, completed, answered);
    expect(shuffled.records).toEqual(inOrder.records);
    expect(shuffled.records[0]?.interaction).toMatchObject({
      status: 'answered',
      durationSec: 2,
      data: { recordingUrl: 'https://api.nexmo.com/v1/files/bbbbbbbb-aaaa-cccc-dddd-0123456789ab', recordingUuid: 'aaaaaaaa-bbbb-cccc-dddd-0123456789ab' },
    });
  });

  it('makes no record from a recording alone: it names no one', async () => {
    expect((await deliver(context(), record)).records).toEqual([]);
  });

  it('maps the inbound ringing fixture to a ringing call from the caller, not from the company’s number', async () => {
    const { records } = await deliver(context(['+44 20 3829 7050']), ...inbound);
    expect(records).toEqual([
      expect.objectContaining({
        sourceId: 'CON-8f5a100c-fbce-4218-8d4b-16341335bcd6',
        identifiers: { phones: ['+441234567890'] },
        interaction: expect.objectContaining({ direction: 'inbound', status: 'ringing', data: expect.objectContaining({ missed: false, companyNumber: '+442038297050', vonageStatus: 'ringing' }) }),
      }),
    ]);
  });

  it('marks an unanswered inbound call as missed', async () => {
    const unanswered = { ...inbound[0], status: 'unanswered', timestamp: '2021-03-29T21:20:35.582Z' };
    const { records } = await deliver(context(), ...inbound, unanswered);
    expect(records[0]?.interaction).toMatchObject({ status: 'missed', durationSec: 0, data: { missed: true } });
  });
});
