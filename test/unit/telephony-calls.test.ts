import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { ConnectorMemory } from '../../src/connectors/connector.js';
import { CONNECTOR_TYPES } from '../../src/connectors/registry.js';
import { resolveConnectorConfigs } from '../../src/connectors/runtime.js';
import { compareOrder, rememberCallEvent, type CallEvent } from '../../src/connectors/telephony/call-memory.js';
import { isWithheld, party, phoneContext, sides, toE164 } from '../../src/connectors/telephony/phones.js';
import { parseConfig } from '../../src/core/config/load-config.js';

/** ctx.memory as Redis keeps it: JSON in, JSON out; every call yields, as a round trip would. */
function fakeMemory(): ConnectorMemory & { writes: number; raw: Map<string, string> } {
  const raw = new Map<string, string>();
  return {
    raw,
    writes: 0,
    async get(key) {
      await new Promise((r) => setImmediate(r));
      const value = raw.get(key);
      return value === undefined ? undefined : (JSON.parse(value) as unknown);
    },
    async set(key, value) {
      await new Promise((r) => setImmediate(r));
      this.writes += 1;
      raw.set(key, JSON.stringify(value));
    },
  };
}

const event = (key: string, order: number[], fields: Record<string, string> = {}): CallEvent => ({ callId: 'c1', key, order, fields });

describe('telephony phone numbers', () => {
  it('reads international numbers written without "+" as such, and national ones under the default country', () => {
    expect(toE164('79161234567', 'RU', 'intl-digits')).toBe('+79161234567');
    expect(toE164('447700900000', 'RU', 'intl-digits')).toBe('+447700900000');
    expect(toE164('8 (916) 123-45-67', 'RU', 'intl-digits')).toBe('+79161234567');
    expect(toE164('89161234567', 'RU', 'intl-digits')).toBe('+79161234567');
    expect(toE164('+1 510 757 1675', 'RU', 'e164')).toBe('+15107571675');
    expect(toE164('100', 'RU', 'e164')).toBeNull();
  });

  it('knows withheld caller ids, including their keypad spellings', () => {
    for (const withheld of ['', 'anonymous', 'Restricted', '+266696687', '+7378742833', '+2562533', '+8656696', '+86282452253', '0']) {
      expect(isWithheld(withheld), withheld).toBe(true);
    }
    expect(isWithheld('+79161234567')).toBe(false);
  });

  it('counts own numbers in any format, extensions, app and SIP identities as the company side', () => {
    const ctx = phoneContext({ companyNumbers: ['8 (495) 123-45-67', '+1 510-757-1675'], defaultCountry: 'RU' }, 'intl-digits');
    expect(party('74951234567', ctx, 'intl-digits')).toEqual({ raw: '74951234567', phone: '+74951234567', company: true });
    expect(party('+15107571675', ctx, 'e164').company).toBe(true);
    for (const own of ['101', 'client:alice', 'sip:alice@example.sip.twilio.com', 's']) expect(party(own, ctx, 'e164').company, own).toBe(true);
    expect(party('79161234567', ctx, 'intl-digits')).toEqual({ raw: '79161234567', phone: '+79161234567', company: false });
  });

  it('takes the caller of an inbound call and the callee of an outbound one as the customer, whatever the provider says', () => {
    const ctx = phoneContext({ companyNumbers: ['74951234567'], defaultCountry: 'RU' }, 'intl-digits');
    const customer = party('79161234567', ctx, 'intl-digits');
    const company = party('74951234567', ctx, 'intl-digits');
    expect(sides(customer, company, 'outbound')).toMatchObject({ direction: 'inbound', customer: { phone: '+79161234567' }, company: { phone: '+74951234567' } });
    expect(sides(company, customer, 'inbound')).toMatchObject({ direction: 'outbound', customer: { phone: '+79161234567' } });
  });

  it('falls back to the provider’s direction, and finds no customer in internal or withheld calls', () => {
    const ctx = phoneContext({ companyNumbers: [], defaultCountry: 'RU' }, 'intl-digits');
    const a = party('79161234567', ctx, 'intl-digits');
    const b = party('79031234567', ctx, 'intl-digits');
    expect(sides(a, b, 'outbound')).toMatchObject({ direction: 'outbound', customer: { phone: '+79031234567' } });
    expect(sides(a, b)).toMatchObject({ direction: 'inbound', customer: { phone: '+79161234567' } });
    expect(sides(party('101', ctx, 'e164'), party('102', ctx, 'e164')).customer).toBeUndefined();
    expect(sides(party('anonymous', ctx, 'e164'), party('101', ctx, 'e164')).customer).toBeUndefined();
  });
});

describe('telephony call memory', () => {
  it('orders positions element by element, a missing element first', () => {
    expect(compareOrder([4, 2], [2, 9])).toBe(1);
    expect(compareOrder([2], [2, 0])).toBe(-1);
    expect([[3], [1, 5], [1, 2], [0]].sort(compareOrder)).toEqual([[0], [1, 2], [1, 5], [3]]);
  });

  it('keeps a call’s events in call order whatever order they arrive in', async () => {
    const memory = fakeMemory();
    await rememberCallEvent(memory, event('final', [4, 3], { CallStatus: 'completed' }));
    const events = await rememberCallEvent(memory, event('early', [2, 1], { CallStatus: 'ringing' }));
    expect(events.map((e) => e.key)).toEqual(['early', 'final']);
  });

  it('changes nothing when an event is delivered again', async () => {
    const memory = fakeMemory();
    const first = await rememberCallEvent(memory, event('a', [1]));
    const writes = memory.writes;
    const again = await rememberCallEvent(memory, event('a', [1], { changed: 'yes' }));
    expect(again).toEqual(first);
    expect(memory.writes).toBe(writes);
  });

  it('loses no event when several events of one call are merged at the same time', async () => {
    const memory = fakeMemory();
    await Promise.all(Array.from({ length: 6 }, (_, i) => rememberCallEvent(memory, event(`e${i}`, [i]))));
    const stored = JSON.parse(memory.raw.get('call:c1') ?? '{}') as { events: { key: string }[] };
    expect(stored.events.map((e) => e.key)).toEqual(['e0', 'e1', 'e2', 'e3', 'e4', 'e5']);
  });

  it('starts a call over when what is remembered is not its own format', async () => {
    const memory = fakeMemory();
    memory.raw.set('call:c1', JSON.stringify({ v: 9, junk: true }));
    const warnings: string[] = [];
    const events = await rememberCallEvent(memory, event('a', [1]), { log: { warn: (_obj, msg) => warnings.push(msg) } });
    expect(events.map((e) => e.key)).toEqual(['a']);
    expect(warnings).toHaveLength(1);
  });
});

describe('telephony connector config', () => {
  const example = parseYaml(readFileSync(new URL('../../config/connectors.telephony.example.yaml', import.meta.url), 'utf8')) as { connectors: Record<string, unknown>[] };
  const env = { TWILIO_AUTH_TOKEN: 'x'.repeat(32), MANGO_VPBX_API_KEY: 'k'.repeat(32), MANGO_VPBX_API_SALT: 's'.repeat(32), ZADARMA_API_SECRET: 'z'.repeat(20), VONAGE_SIGNATURE_SECRET: 'v'.repeat(32), PBX_WEBHOOK_SECRET: 'p'.repeat(32) };

  it('has a valid example for every telephony type', () => {
    const config = parseConfig(example, env);
    const resolved = resolveConnectorConfigs(config.connectors, CONNECTOR_TYPES);
    expect(resolved.map((r) => r.connector.type)).toEqual(['twilio', 'mango', 'zadarma', 'vonage', 'asterisk']);
    expect(resolved.map((r) => r.mapping.name)).toEqual(['twilio', 'mango', 'zadarma', 'vonage', 'asterisk']);
  });

  it('stops at start when a secret is missing, naming the setting', () => {
    const config = parseConfig({ connectors: [{ id: 'tw', type: 'twilio', settings: { publicUrl: 'https://crm.example.com/v1/webhooks/tw' } }] });
    expect(() => resolveConnectorConfigs(config.connectors, CONNECTOR_TYPES)).toThrow(/\/connectors\/0\/settings.*authToken/);
    const short = parseConfig({ connectors: [{ id: 'z', type: 'zadarma', settings: { apiSecret: 'short' } }] });
    expect(() => resolveConnectorConfigs(short.connectors, CONNECTOR_TYPES)).toThrow(/\/connectors\/0\/settings\/apiSecret/);
  });
});
