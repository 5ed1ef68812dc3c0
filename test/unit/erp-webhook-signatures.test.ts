import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/core/config/load-config.js';
import { HubError } from '../../src/core/errors.js';
import type { Connector, ConnectorContext, WebhookRequest } from '../../src/connectors/connector.js';
import { resolveConnectorConfigs } from '../../src/connectors/runtime.js';
import { bitrix24Connector } from '../../src/connectors/erp/bitrix24/bitrix24.connector.js';
import { quickbooksConnector } from '../../src/connectors/erp/quickbooks/quickbooks.connector.js';
import { xeroConnector } from '../../src/connectors/erp/xero/xero.connector.js';

const fixture = (name: string) => readFileSync(new URL(`../../../shared/fixtures/${name}`, import.meta.url));

// quickbooks_webhook.source: a real delivery and the (since revoked) verifier token it was signed with.
const QBO_TOKEN = '43c97e5c-99f9-4cb2-82ee-ce64ce90b751';
const QBO_SIGNATURE = 'HmuXsvKpPUvvUQbu6PT766iNcZZ9SekX+CES5b0e7y4=';
// xero_webhook_event.source: the documented Intent to Receive body signed with a known key.
const XERO_KEY = 'xero_webhook_test_secret';
const XERO_ITR_SIGNATURE = 'hnekiT0GuNX9rRmSlg0oxCxyBHwzBcb0J24w8gQbXo0=';
// bitrix24_oncrmcontactadd.txt: the application token of the captured event.
const BITRIX_TOKEN = '3c6c9248ec54af6bea1159b43ee0ab32';

function context<S>(settings: S): ConnectorContext<S> {
  return {
    id: 'test',
    settings,
    log: pino({ level: 'silent' }),
    http: () => {
      throw new Error('verify must not call out');
    },
    memory: { get: async () => undefined, set: async () => undefined },
  };
}

/** A POST as the hub hands it over; the body is parsed as JSON unless given. */
function request(rawBody: Buffer, headers: Record<string, string>, ...parsed: [unknown?]): WebhookRequest {
  const body = parsed.length > 0 ? parsed[0] : JSON.parse(rawBody.toString('utf8'));
  return { method: 'POST', url: 'http://hub.test/v1/webhooks/x', headers, query: {}, rawBody, body };
}

/** The same JSON with one more space: the same data, other bytes. */
function tamper(raw: Buffer): Buffer {
  return Buffer.from(raw.toString('utf8').replace(/}$/, ' }'));
}

/** The code of the HubError a call throws, or 'none'. */
function refusal(fn: () => unknown): string {
  try {
    fn();
    return 'none';
  } catch (err) {
    expect(err).toBeInstanceOf(HubError);
    return (err as HubError).code;
  }
}

/** Bitrix24 posts form fields; PHP-style keys stay flat, as the hub's form parser leaves them. */
function bitrixForm(raw: string): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(raw));
}
const bitrixRaw = Buffer.from(
  fixture('bitrix24_oncrmcontactadd.txt')
    .toString('utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .join(''),
);

describe('QuickBooks intuit-signature', () => {
  const qbo = quickbooksConnector.webhook!;
  const ctx = context({ verifierToken: QBO_TOKEN, accessToken: 't', realmId: '4620816365020074550', baseUrl: 'https://quickbooks.api.intuit.com' });
  const raw = fixture('quickbooks_webhook.json');

  it('accepts the real delivery with its real signature', () => {
    expect(raw.length).toBe(183);
    expect(refusal(() => qbo.verify(ctx, request(raw, { 'intuit-signature': QBO_SIGNATURE })))).toBe('none');
  });

  it('refuses a tampered body, a missing or malformed signature and another token', () => {
    expect(refusal(() => qbo.verify(ctx, request(tamper(raw), { 'intuit-signature': QBO_SIGNATURE })))).toBe('HUB_ERR_UNAUTHORIZED');
    expect(refusal(() => qbo.verify(ctx, request(raw, {})))).toBe('HUB_ERR_UNAUTHORIZED');
    expect(refusal(() => qbo.verify(ctx, request(raw, { 'intuit-signature': QBO_SIGNATURE.slice(0, -2) })))).toBe('HUB_ERR_UNAUTHORIZED');
    const other = context({ ...ctx.settings, verifierToken: 'another-verifier-token-0000' });
    expect(refusal(() => qbo.verify(other, request(raw, { 'intuit-signature': QBO_SIGNATURE })))).toBe('HUB_ERR_UNAUTHORIZED');
  });
});

describe('Xero x-xero-signature', () => {
  const xero = xeroConnector.webhook!;
  const ctx = context({ webhookKey: XERO_KEY, accessToken: 't', tenantId: 'c2cc9b6e-9458-4c7d-93cc-f02b81b0594f', baseUrl: 'https://api.xero.com' });
  const itr = fixture('xero_intent_to_receive.json');

  it('accepts the Intent to Receive vector and refuses it tampered or unsigned', () => {
    expect(refusal(() => xero.verify(ctx, request(itr, { 'x-xero-signature': XERO_ITR_SIGNATURE })))).toBe('none');
    expect(refusal(() => xero.verify(ctx, request(tamper(itr), { 'x-xero-signature': XERO_ITR_SIGNATURE })))).toBe('HUB_ERR_UNAUTHORIZED');
    expect(refusal(() => xero.verify(ctx, request(itr, {})))).toBe('HUB_ERR_UNAUTHORIZED');
  });

  it('checks an event delivery over its exact bytes, whitespace included', () => {
    const raw = fixture('xero_webhook_event.json');
    const signature = createHmac('sha256', XERO_KEY).update(raw).digest('base64');
    expect(refusal(() => xero.verify(ctx, request(raw, { 'x-xero-signature': signature })))).toBe('none');
    const compacted = Buffer.from(JSON.stringify(JSON.parse(raw.toString('utf8'))));
    expect(refusal(() => xero.verify(ctx, request(compacted, { 'x-xero-signature': signature })))).toBe('HUB_ERR_UNAUTHORIZED');
  });
});

describe('Bitrix24 application token', () => {
  const bitrix = bitrix24Connector.webhook!;
  const ctx = context({ applicationToken: BITRIX_TOKEN, restUrl: 'https://bitrix24-php-sdk-playground.bitrix24.com/rest/1/abcdef0123456789/' });

  it('accepts the captured event with its token', () => {
    expect(refusal(() => bitrix.verify(ctx, request(bitrixRaw, {}, bitrixForm(bitrixRaw.toString('utf8')))))).toBe('none');
  });

  it('refuses another token of the same length, a missing one and a body that is not a form', () => {
    const forged = bitrixRaw.toString('utf8').replace(BITRIX_TOKEN, BITRIX_TOKEN.replace(/^3/, '4'));
    expect(refusal(() => bitrix.verify(ctx, request(Buffer.from(forged), {}, bitrixForm(forged))))).toBe('HUB_ERR_UNAUTHORIZED');
    const stripped = bitrixRaw.toString('utf8').replace(/&auth%5Bapplication_token%5D=[^&]*/, '');
    expect(refusal(() => bitrix.verify(ctx, request(Buffer.from(stripped), {}, bitrixForm(stripped))))).toBe('HUB_ERR_UNAUTHORIZED');
    expect(refusal(() => bitrix.verify(ctx, request(Buffer.alloc(0), {}, undefined)))).toBe('HUB_ERR_UNAUTHORIZED');
  });
});

describe('connector settings', () => {
  const registry = new Map<string, Connector>([quickbooksConnector, xeroConnector, bitrix24Connector].map((c) => [c.type, c as Connector]));
  const resolve = (type: string, settings: Record<string, unknown>) => () => resolveConnectorConfigs([{ id: 'erp', type, enabled: true, settings }], registry);

  it('refuses to start without a secret, naming the setting', () => {
    for (const [type, settings, secret] of [
      ['quickbooks', { accessToken: 't', realmId: '1' }, 'verifierToken'],
      ['xero', { accessToken: 't', tenantId: 'c2cc9b6e-9458-4c7d-93cc-f02b81b0594f' }, 'webhookKey'],
      ['bitrix24', { restUrl: 'https://example.bitrix24.com/rest/1/abc/' }, 'applicationToken'],
    ] as const) {
      expect(resolve(type, settings)).toThrow(new RegExp(`/connectors/0/settings.*${secret}`));
      expect(resolve(type, { ...settings, [secret]: '' })).toThrow(new RegExp(`/connectors/0/settings/${secret}`));
    }
  });

  it('fills in the real API hosts so that nothing but a test points elsewhere', () => {
    const [qbo] = resolveConnectorConfigs([{ id: 'q', type: 'quickbooks', enabled: true, settings: { verifierToken: QBO_TOKEN, accessToken: 't', realmId: '1' } }], registry);
    expect(qbo?.settings).toMatchObject({ baseUrl: 'https://quickbooks.api.intuit.com' });
    const [xero] = resolveConnectorConfigs([{ id: 'x', type: 'xero', enabled: true, settings: { webhookKey: 'k'.repeat(20), accessToken: 't', tenantId: 'c2cc9b6e-9458-4c7d-93cc-f02b81b0594f' } }], registry);
    expect(xero?.settings).toMatchObject({ baseUrl: 'https://api.xero.com' });
  });

  it('takes the documented example config as it stands', () => {
    const file = fileURLToPath(new URL('../../config/connectors.erp-webhooks.example.yaml', import.meta.url));
    const env = { QBO_VERIFIER_TOKEN: QBO_TOKEN, QBO_ACCESS_TOKEN: 'qbo-access', XERO_WEBHOOK_KEY: 'x'.repeat(88), XERO_ACCESS_TOKEN: 'xero-access', BITRIX24_APP_TOKEN: BITRIX_TOKEN, BITRIX24_REST_URL: 'https://example.bitrix24.com/rest/1/abc123/' };
    const config = loadConfigFile(file, env);
    const resolved = resolveConnectorConfigs(config.connectors, registry);
    expect(resolved.map((r) => r.connector.type).sort()).toEqual(['bitrix24', 'quickbooks', 'xero']);
  });
});
