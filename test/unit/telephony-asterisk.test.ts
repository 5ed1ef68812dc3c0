import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import type { ConnectorContext, ConnectorMemory, WebhookRequest } from '../../src/connectors/connector.js';
import { asteriskConnector, parseAmi } from '../../src/connectors/telephony/asterisk.connector.js';
import { createLogger } from '../../src/core/logger.js';
import { compileMapping } from '../../src/mappings/compile.js';

// The fixture is the official Cdr syntax with <value> placeholders and "# …" annotations; a real
// event is that text with values, as cdr_manager writes it.
const template = readFileSync(new URL('../../../shared/fixtures/asterisk_ami_cdr_event.txt', import.meta.url), 'utf8');
function amiEvent(values: Record<string, string>): string {
  return template
    .split('\n')
    .filter((l) => /^[A-Za-z]+: /.test(l))
    .map((l) => {
      const key = l.slice(0, l.indexOf(':'));
      return key === 'Event' ? 'Event: Cdr' : `${key}: ${values[key] ?? ''}`;
    })
    .join('\r\n');
}
const INBOUND = {
  AccountCode: '',
  Source: '89161234567',
  Destination: '74951234567',
  DestinationContext: 'from-trunk',
  CallerID: '"Ivan Petrov" <89161234567>',
  Channel: 'PJSIP/trunk-00000001',
  DestinationChannel: 'PJSIP/101-00000002',
  LastApplication: 'Dial',
  LastData: 'PJSIP/101,30',
  StartTime: '2026-11-20 10:15:00',
  AnswerTime: '2026-11-20 10:15:08',
  EndTime: '2026-11-20 10:16:43',
  Duration: '103',
  BillableSeconds: '95',
  Disposition: 'ANSWERED',
  AMAFlags: 'DOCUMENTATION',
  UniqueID: '1795163700.1',
  UserField: '',
};

const HMAC_SECRET = 'asterisk-sidecar-secret-0123';
const mapping = compileMapping(asteriskConnector.mappings[0]!);

function memory(): ConnectorMemory {
  const raw = new Map<string, string>();
  return {
    get: async (key) => (raw.has(key) ? (JSON.parse(raw.get(key)!) as unknown) : undefined),
    set: async (key, value) => void raw.set(key, JSON.stringify(value)),
  };
}

type Signature = { scheme: 'hmac-sha256' | 'standard-webhooks'; secret: string; header: string; encoding: 'hex' | 'base64'; prefix: string };
type Settings = { signature: Signature; timeZoneOffset: string; companyNumbers: string[]; defaultCountry: string };
function context(signature: Partial<Signature> = {}): ConnectorContext<Settings> {
  return {
    id: 'pbx',
    settings: {
      signature: { scheme: 'hmac-sha256', secret: HMAC_SECRET, header: 'x-signature', encoding: 'hex', prefix: 'sha256=', ...signature },
      timeZoneOffset: '+03:00',
      companyNumbers: ['+7 495 123-45-67'],
      defaultCountry: 'RU',
    },
    log: createLogger({ level: 'silent' }),
    http: () => {
      throw new Error('no HTTP in these tests');
    },
    memory: memory(),
  };
}

const sign = (body: string) => `sha256=${createHmac('sha256', HMAC_SECRET).update(body).digest('hex')}`;
function request(body: string, type: string, headers: Record<string, string> = { 'x-signature': sign(body) }): WebhookRequest {
  return {
    method: 'POST',
    url: 'http://127.0.0.1/v1/webhooks/pbx',
    headers: { 'content-type': type, ...headers },
    query: {},
    rawBody: Buffer.from(body),
    body: type === 'application/json' ? (JSON.parse(body) as unknown) : undefined,
  };
}
const ami = (values: Record<string, string>) => request(amiEvent(values), 'text/plain');

async function deliver(ctx: ConnectorContext<Settings>, ...requests: WebhookRequest[]) {
  let payloads: unknown[] = [];
  for (const r of requests) {
    await asteriskConnector.webhook!.verify(ctx, r);
    const accepted = await asteriskConnector.webhook!.accept(ctx, r);
    for (const event of accepted.events) payloads = await asteriskConnector.prepare!(ctx, event);
  }
  return mapping.apply(payloads[0]);
}

describe('Asterisk CDRs', () => {
  it('parses the AMI text of the fixture’s fields', () => {
    expect(parseAmi(amiEvent(INBOUND))).toMatchObject({ event: 'Cdr', source: '89161234567', callerid: '"Ivan Petrov" <89161234567>', billableseconds: '95', uniqueid: '1795163700.1' });
  });

  it('maps a Cdr event to an answered inbound call from the caller, in the PBX’s time zone', async () => {
    const { records, errors } = await deliver(context(), ami(INBOUND));
    expect(errors).toEqual([]);
    expect(records).toEqual([
      {
        kind: 'interaction',
        source: 'asterisk',
        sourceId: '1795163700.1',
        occurredAt: '2026-11-20T07:15:00.000Z',
        identifiers: { phones: ['+79161234567'] },
        interaction: {
          channel: 'call',
          direction: 'inbound',
          status: 'answered',
          durationSec: 95,
          data: {
            missed: false,
            companyNumber: '+74951234567',
            uniqueIds: ['1795163700.1'],
            disposition: 'ANSWERED',
            callerId: '"Ivan Petrov" <89161234567>',
            channel: 'PJSIP/trunk-00000001',
            destinationChannel: 'PJSIP/101-00000002',
            destinationContext: 'from-trunk',
          },
        },
      },
    ]);
  });

  it('takes the same CDR as JSON with the lower-case keys AMI libraries emit', async () => {
    const fromText = await deliver(context(), ami(INBOUND));
    const json = JSON.stringify(Object.fromEntries(Object.entries({ Event: 'Cdr', ...INBOUND }).map(([k, v]) => [k.toLowerCase(), v])));
    expect((await deliver(context(), request(json, 'application/json'))).records).toEqual(fromText.records);
  });

  it.each([
    ['NO ANSWER', 'missed', true],
    ['BUSY', 'busy', true],
    ['FAILED', 'failed', false],
  ])('marks disposition %s as %s', async (disposition, status, missed) => {
    const { records } = await deliver(context(), ami({ ...INBOUND, Disposition: disposition, AnswerTime: '', BillableSeconds: '0' }));
    expect(records[0]?.interaction).toMatchObject({ status, durationSec: 0, data: { missed } });
  });

  it('maps a call from an extension to the dialled number as outbound', async () => {
    const { records } = await deliver(context(), ami({ ...INBOUND, Source: '101', Destination: '89031234567', CallerID: '"Operator" <101>', UniqueID: '1795163800.7' }));
    expect(records[0]).toMatchObject({ identifiers: { phones: ['+79031234567'] }, interaction: { direction: 'outbound' } });
  });

  it('merges the CDRs of one LinkedID into one call, answered if any leg was', async () => {
    const linked = { ...INBOUND, LinkedID: '1795163700.1' } as Record<string, string>;
    const legA = JSON.stringify({ ...linked, UniqueID: '1795163700.2', Disposition: 'NO ANSWER', BillableSeconds: '0' });
    const legB = JSON.stringify({ ...linked, UniqueID: '1795163700.3' });
    const { records } = await deliver(context(), request(legB, 'application/json'), request(legA, 'application/json'));
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ sourceId: '1795163700.1', interaction: { status: 'answered', durationSec: 95, data: { uniqueIds: ['1795163700.2', '1795163700.3'] } } });
  });

  it('verifies with the generic webhook connector’s schemes and refuses a tampered body', async () => {
    const body = amiEvent(INBOUND);
    const verify = (ctx: ConnectorContext<Settings>, r: WebhookRequest) => Promise.resolve(asteriskConnector.webhook!.verify(ctx, r));
    await expect(verify(context(), request(body, 'text/plain'))).resolves.toBeUndefined();
    await expect(verify(context(), request(body.replace('95', '96'), 'text/plain', { 'x-signature': sign(body) }))).rejects.toThrow(/does not match/);
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const at = new Date();
    const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': new Webhook(secret).sign('msg_1', at, body) };
    await expect(verify(context({ scheme: 'standard-webhooks', secret }), request(body, 'text/plain', headers))).resolves.toBeUndefined();
    await expect(verify(context({ scheme: 'standard-webhooks', secret }), request(`${body} `, 'text/plain', headers))).rejects.toThrow(/refused/);
  });

  it('ignores other AMI events and refuses a Cdr without UniqueID', async () => {
    expect((await asteriskConnector.webhook!.accept(context(), request('Event: Hangup\r\nUniqueid: 1.2', 'text/plain'))).events).toEqual([]);
    expect(() => asteriskConnector.webhook!.accept(context(), request('Event: Cdr\r\nSource: 89161234567', 'text/plain'))).toThrow(/without UniqueID/);
  });
});
