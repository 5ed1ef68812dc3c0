import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ConnectorContext, ConnectorMemory, WebhookRequest } from '../../src/connectors/connector.js';
import { verifyZadarma, zadarmaConnector, zadarmaSignature } from '../../src/connectors/telephony/zadarma.connector.js';
import { createLogger } from '../../src/core/logger.js';
import { compileMapping } from '../../src/mappings/compile.js';

// A NOTIFY_END body and its Signature header, computed with the secret "zadarma_test_secret".
const fixture = readFileSync(new URL('../../../shared/fixtures/zadarma_notify_end.txt', import.meta.url), 'utf8').split('\n');
const SIGNATURE = /^# Header\s+Signature: (\S+)/.exec(fixture.find((l) => l.startsWith('# Header')) ?? '')?.[1] ?? '';
const BODY = fixture.find((l) => l.startsWith('event=')) ?? '';
const END = Object.fromEntries(new URLSearchParams(BODY));
const SECRET = 'zadarma_test_secret';
const mapping = compileMapping(zadarmaConnector.mappings[0]!);

function memory(): ConnectorMemory {
  const raw = new Map<string, string>();
  return {
    get: async (key) => (raw.has(key) ? (JSON.parse(raw.get(key)!) as unknown) : undefined),
    set: async (key, value) => void raw.set(key, JSON.stringify(value)),
  };
}

type Settings = { apiSecret: string; timeZoneOffset: string; companyNumbers: string[]; defaultCountry: string };
function context(settings: Partial<Settings> = {}): ConnectorContext<Settings> {
  return {
    id: 'zadarma',
    settings: { apiSecret: SECRET, timeZoneOffset: '+00:00', companyNumbers: ['+7 (495) 123-45-67'], defaultCountry: 'RU', ...settings },
    log: createLogger({ level: 'silent' }),
    http: () => {
      throw new Error('no HTTP in these tests');
    },
    memory: memory(),
  };
}

const SIGNED: Record<string, string[]> = {
  NOTIFY_START: ['caller_id', 'called_did', 'call_start'],
  NOTIFY_ANSWER: ['caller_id', 'destination', 'call_start'],
  NOTIFY_END: ['caller_id', 'called_did', 'call_start'],
  NOTIFY_OUT_START: ['internal', 'destination', 'call_start'],
  NOTIFY_OUT_END: ['internal', 'destination', 'call_start'],
  NOTIFY_RECORD: ['pbx_call_id', 'call_id_with_rec'],
};

function request(fields: Record<string, string>, signature?: string): WebhookRequest {
  const sig = signature ?? zadarmaSignature(SECRET, (SIGNED[fields['event'] ?? ''] ?? []).map((n) => fields[n] ?? '').join(''));
  return { method: 'POST', url: 'http://127.0.0.1/v1/webhooks/zadarma', headers: { signature: sig }, query: {}, rawBody: Buffer.from(new URLSearchParams(fields).toString()), body: fields };
}

async function deliver(ctx: ConnectorContext<Settings>, ...requests: WebhookRequest[]) {
  let payloads: unknown[] = [];
  for (const r of requests) {
    zadarmaConnector.webhook!.verify(ctx, r);
    const accepted = await zadarmaConnector.webhook!.accept(ctx, r);
    for (const event of accepted.events) payloads = await zadarmaConnector.prepare!(ctx, event);
  }
  return mapping.apply(payloads[0]);
}

const START = { event: 'NOTIFY_START', call_start: END['call_start']!, pbx_call_id: END['pbx_call_id']!, caller_id: END['caller_id']!, called_did: END['called_did']! };

describe('Zadarma Signature', () => {
  it('is base64 of the hex HMAC-SHA1, as the fixture’s vector says', () => {
    expect(zadarmaSignature(SECRET, `${END['caller_id']}${END['called_did']}${END['call_start']}`)).toBe(SIGNATURE);
    expect(SIGNATURE).toBe('OWMzNzFkMTAzMDc4OTc4ZWFmMzliYmNlZGJkNDA1NGMxYWFkN2NkMw==');
    expect(() => verifyZadarma({ apiSecret: SECRET }, request(END, SIGNATURE))).not.toThrow();
  });

  it('refuses a tampered notification, another secret, the raw-digest variant, no signature and unknown events', () => {
    expect(() => verifyZadarma({ apiSecret: SECRET }, request({ ...END, caller_id: '79160000000' }, SIGNATURE))).toThrow(/does not match/);
    expect(() => verifyZadarma({ apiSecret: 'another_secret_value' }, request(END, SIGNATURE))).toThrow(/does not match/);
    expect(() => verifyZadarma({ apiSecret: SECRET }, request(END, 'nDcdEDB4l46vObvO29QFTBqtfNM='))).toThrow(/does not match/);
    const unsigned = request(END);
    unsigned.headers = {};
    expect(() => verifyZadarma({ apiSecret: SECRET }, unsigned)).toThrow(/missing Signature/);
    expect(() => verifyZadarma({ apiSecret: SECRET }, request({ ...END, event: 'NOTIFY_SOMETHING' }, SIGNATURE))).toThrow(/cannot verify/);
  });

  it('answers the zd_echo check without a signature, and only with a plain token', async () => {
    const echo = (value: string): WebhookRequest => ({ method: 'GET', url: `http://127.0.0.1/v1/webhooks/zadarma?zd_echo=${encodeURIComponent(value)}`, headers: {}, query: { zd_echo: value }, rawBody: Buffer.alloc(0), body: undefined });
    const ctx = context();
    expect(() => zadarmaConnector.webhook!.verify(ctx, echo('a1b2c3'))).not.toThrow();
    expect(await zadarmaConnector.webhook!.accept(ctx, echo('a1b2c3'))).toEqual({ events: [], reply: { status: 200, contentType: 'text/plain', body: 'a1b2c3' } });
    expect(() => zadarmaConnector.webhook!.accept(ctx, echo('<script>'))).toThrow(/plain token/);
    const bare: WebhookRequest = { method: 'GET', url: 'http://127.0.0.1/v1/webhooks/zadarma', headers: {}, query: {}, rawBody: Buffer.alloc(0), body: undefined };
    expect(() => zadarmaConnector.webhook!.verify(ctx, bare)).toThrow(/missing Signature/);
  });
});

describe('Zadarma calls', () => {
  it('maps the NOTIFY_END fixture to an answered inbound call from the caller, not from the company’s number', async () => {
    const { records, errors } = await deliver(context(), request(END, SIGNATURE));
    expect(errors).toEqual([]);
    expect(records).toEqual([
      {
        kind: 'interaction',
        source: 'zadarma',
        sourceId: 'in_0a1b2c3d4e5f',
        occurredAt: '2024-05-14T12:00:00.000Z',
        identifiers: { phones: ['+79161234567'] },
        interaction: {
          channel: 'call',
          direction: 'inbound',
          status: 'answered',
          durationSec: 42,
          data: { missed: false, companyNumber: '+74951234567', pbxCallId: 'in_0a1b2c3d4e5f', extension: '100', disposition: 'answered', statusCode: '16', recorded: true, callIdWithRec: '1715677200.123456' },
        },
      },
    ]);
  });

  it('reads call_start in the account’s time zone', async () => {
    const { records } = await deliver(context({ timeZoneOffset: '+03:00' }), request(END, SIGNATURE));
    expect(records[0]?.occurredAt).toBe('2024-05-14T09:00:00.000Z');
  });

  it('keeps the end of the call when NOTIFY_START arrives after NOTIFY_END', async () => {
    const inOrder = await deliver(context(), request(START), request(END));
    const reversed = await deliver(context(), request(END), request(START));
    expect(reversed.records).toEqual(inOrder.records);
    expect(reversed.records[0]?.interaction).toMatchObject({ status: 'answered', durationSec: 42 });
    expect((await deliver(context(), request(START))).records[0]?.interaction).toMatchObject({ status: 'ringing', data: { missed: false } });
  });

  it.each([
    ['no answer', 'missed', true],
    ['cancel', 'missed', true],
    ['busy', 'busy', true],
    ['no money', 'failed', false],
  ])('marks disposition "%s" as %s', async (disposition, status, missed) => {
    const { records } = await deliver(context(), request({ ...END, disposition, duration: '0', is_recorded: '0', call_id_with_rec: '' }));
    expect(records[0]?.interaction).toMatchObject({ status, durationSec: 0, data: { missed, disposition, recorded: false } });
  });

  it('maps an outbound call to the dialled number, with the recording id from NOTIFY_RECORD', async () => {
    const out = { pbx_call_id: 'out_1', call_start: '2024-05-14 13:00:00', internal: '100', destination: '79031234567', caller_id: '74951234567' };
    const { records } = await deliver(
      context(),
      request({ event: 'NOTIFY_OUT_START', ...out }),
      request({ event: 'NOTIFY_OUT_END', ...out, duration: '65', disposition: 'answered', status_code: '16', is_recorded: '1', call_id_with_rec: '' }),
      request({ event: 'NOTIFY_RECORD', pbx_call_id: 'out_1', call_id_with_rec: '1715680800.5' }),
    );
    expect(records).toEqual([
      expect.objectContaining({
        sourceId: 'out_1',
        identifiers: { phones: ['+79031234567'] },
        interaction: expect.objectContaining({ direction: 'outbound', status: 'answered', durationSec: 65, data: expect.objectContaining({ callIdWithRec: '1715680800.5', companyNumber: '+74951234567' }) }),
      }),
    ]);
  });

  it('verifies and ignores SMS notifications', async () => {
    const sms = { event: 'SMS', result: '{"caller_id":"79161234567","caller_did":"74951234567","text":"hi"}' };
    const r = request(sms, zadarmaSignature(SECRET, sms.result));
    expect(() => zadarmaConnector.webhook!.verify(context(), r)).not.toThrow();
    expect((await zadarmaConnector.webhook!.accept(context(), r)).events).toEqual([]);
  });
});
