import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ConnectorContext, ConnectorMemory, WebhookRequest } from '../../src/connectors/connector.js';
import { mangoConnector, mangoEvent, mangoSign, verifyMango } from '../../src/connectors/telephony/mango.connector.js';
import { createLogger } from '../../src/core/logger.js';
import { compileMapping } from '../../src/mappings/compile.js';

// Three form-encoded notifications of one call (Appeared, Connected, Disconnected), signed with key qwerty123 and salt test-salt.
const lines = readFileSync(new URL('../../../shared/fixtures/mango_events_call.txt', import.meta.url), 'utf8')
  .split('\n')
  .filter((l) => l.startsWith('vpbx_api_key='));
const forms = lines.map((l) => Object.fromEntries(new URLSearchParams(l)) as { vpbx_api_key: string; sign: string; json: string });
const KEYS = { apiKey: 'qwerty123', apiSalt: 'test-salt' };
const mapping = compileMapping(mangoConnector.mappings[0]!);

function memory(): ConnectorMemory {
  const raw = new Map<string, string>();
  return {
    get: async (key) => (raw.has(key) ? (JSON.parse(raw.get(key)!) as unknown) : undefined),
    set: async (key, value) => void raw.set(key, JSON.stringify(value)),
  };
}

type Settings = typeof KEYS & { companyNumbers: string[]; defaultCountry: string };
function context(companyNumbers: string[] = []): ConnectorContext<Settings> {
  return {
    id: 'mango',
    settings: { ...KEYS, companyNumbers, defaultCountry: 'RU' },
    log: createLogger({ level: 'silent' }),
    http: () => {
      throw new Error('no HTTP in these tests');
    },
    memory: memory(),
  };
}

function request(form: Record<string, string>, path = '/events/call'): WebhookRequest {
  const body = new URLSearchParams(form).toString();
  return { method: 'POST', url: `http://127.0.0.1/v1/webhooks/mango${path}`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, query: {}, rawBody: Buffer.from(body), body: form };
}

function signed(json: object, path = '/events/call'): WebhookRequest {
  const text = JSON.stringify(json);
  return request({ vpbx_api_key: KEYS.apiKey, sign: mangoSign(KEYS.apiKey, text, KEYS.apiSalt), json: text }, path);
}

async function deliver(ctx: ConnectorContext<Settings>, ...requests: WebhookRequest[]) {
  let payloads: unknown[] = [];
  for (const r of requests) {
    mangoConnector.webhook!.verify(ctx, r);
    const accepted = await mangoConnector.webhook!.accept(ctx, r);
    expect(accepted.reply).toEqual({ status: 200, contentType: 'text/plain', body: '' });
    for (const event of accepted.events) payloads = await mangoConnector.prepare!(ctx, event);
  }
  return mapping.apply(payloads[0]);
}

describe('Mango Office sign', () => {
  it.each(forms.map((f, i) => [i + 1, f] as const))('matches the fixture’s sign of event %i and the verification accepts it', (_n, form) => {
    expect(mangoSign(form.vpbx_api_key, form.json, KEYS.apiSalt)).toBe(form.sign);
    expect(() => verifyMango(KEYS, request(form))).not.toThrow();
  });

  it('refuses a tampered json, another key, another salt, and a missing sign', () => {
    const form = forms[0]!;
    expect(() => verifyMango(KEYS, request({ ...form, json: form.json.replace('12345678', '12345679') }))).toThrow(/sign does not match/);
    expect(() => verifyMango({ ...KEYS, apiSalt: 'other-salt' }, request(form))).toThrow(/sign does not match/);
    expect(() => verifyMango({ ...KEYS, apiKey: 'another-key' }, request(form))).toThrow(/vpbx_api_key/);
    expect(() => verifyMango(KEYS, request({ vpbx_api_key: form.vpbx_api_key, json: form.json }))).toThrow(/missing/);
  });
});

describe('Mango Office calls', () => {
  it('maps the fixture’s three events to one answered outbound call of 20 s to the external number', async () => {
    const { records, errors } = await deliver(context(), ...forms.map((f) => request(f)));
    expect(errors).toEqual([]);
    expect(records).toEqual([
      {
        kind: 'interaction',
        source: 'mango',
        sourceId: '232wc3e3w3s222',
        occurredAt: '2014-05-12T15:02:56.000Z',
        // The fixture's callee is the placeholder 12345678, not a Russian number: it goes on as written and the hub decides.
        identifiers: { phones: ['12345678'] },
        interaction: {
          channel: 'call',
          direction: 'outbound',
          status: 'answered',
          durationSec: 20,
          data: { missed: false, companyNumber: '+74955404444', entryId: '232wc3e3w3s222', callIds: ['100:500:256'], extension: '1234', disconnectReason: '1120' },
        },
      },
    ]);
  });

  it('ends in the same call when the events arrive in reverse order', async () => {
    const inOrder = await deliver(context(), ...forms.map((f) => request(f)));
    const reversed = await deliver(context(), ...forms.map((f) => request(f)).reverse());
    expect(reversed.records).toEqual(inOrder.records);
  });

  it('says ringing, then in progress, while the call is not over', async () => {
    expect((await deliver(context(), request(forms[0]!))).records[0]?.interaction).toMatchObject({ status: 'ringing', data: { missed: false } });
    expect((await deliver(context(), request(forms[0]!), request(forms[1]!))).records[0]?.interaction).toMatchObject({ status: 'in-progress' });
  });

  it('marks an inbound call that no one answered as missed, with the caller as the customer and the dialled line as the company’s', async () => {
    const leg = { entry_id: 'E1', call_id: 'C1', location: 'abonent', from: { number: '79161234567' }, to: { extension: '101', line_number: '74951234567' } };
    const { records } = await deliver(
      context(),
      signed({ ...leg, timestamp: '1700000000', seq: '1', call_state: 'Appeared' }),
      signed({ ...leg, timestamp: '1700000030', seq: '2', call_state: 'Disconnected', disconnect_reason: '1110' }),
    );
    expect(records[0]).toMatchObject({
      sourceId: 'E1',
      occurredAt: '2023-11-14T22:13:20.000Z',
      identifiers: { phones: ['+79161234567'] },
      interaction: { direction: 'inbound', status: 'missed', durationSec: 0, data: { missed: true, companyNumber: '+74951234567', lineNumber: '74951234567', extension: '101' } },
    });
  });

  it('merges the legs of an entry and takes the talk time from the summary', async () => {
    const from = { number: '79161234567' };
    const { records } = await deliver(
      context(['74951234567']),
      signed({ entry_id: 'E2', call_id: 'IVR', timestamp: '1700000000', seq: '1', call_state: 'Appeared', location: 'ivr', from, to: { number: '74951234567' } }),
      signed({ entry_id: 'E2', call_id: 'OP', timestamp: '1700000010', seq: '1', call_state: 'Appeared', location: 'abonent', from, to: { extension: '101' } }),
      signed({ entry_id: 'E2', call_id: 'OP', timestamp: '1700000015', seq: '2', call_state: 'Connected', location: 'abonent', from, to: { extension: '101' } }),
      signed({ entry_id: 'E2', call_direction: 1, from, to: { extension: '101' }, line_number: '74951234567', create_time: 1700000000, forward_time: 1700000010, talk_time: 1700000015, end_time: 1700000075, entry_result: 1 }, '/events/summary'),
    );
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ identifiers: { phones: ['+79161234567'] }, interaction: { direction: 'inbound', status: 'answered', durationSec: 60, data: { callIds: ['IVR', 'OP'], entryResult: '1' } } });
  });

  it('ignores notifications that are not about calls, and refuses a json that is not JSON', () => {
    expect(mangoEvent('http://h/v1/webhooks/mango/events/dtmf', '{"entry_id":"E1","dtmf":"1"}')).toBeNull();
    expect(mangoEvent('http://h/v1/webhooks/mango/result/callback', '{"command_id":"x"}')).toBeNull();
    expect(mangoEvent('http://h/v1/webhooks/mango', forms[0]!.json)?.key).toBe('232wc3e3w3s222:call:100:500:256:1');
    expect(() => mangoEvent('http://h/v1/webhooks/mango/events/call', '{oops')).toThrow(/not JSON/);
    expect(() => mangoEvent('http://h/v1/webhooks/mango/events/call', '{"call_state":"Appeared"}')).toThrow(/without entry_id, call_id/);
  });
});
