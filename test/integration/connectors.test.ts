import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { startTestHub, waitFor, type TestHub } from '../support/hub.js';

const HMAC_SECRET = 'sidecar-secret-0123456789';
const vectors = JSON.parse(readFileSync(new URL('../../../shared/fixtures/signature_conventions_vectors.json', import.meta.url), 'utf8')) as Record<string, Record<string, string>>;
const SW_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

const sidecarMapping = {
  name: 'asterisk-cdr',
  version: 1,
  records: [
    {
      kind: 'interaction',
      source: { const: 'asterisk' },
      sourceId: 'UniqueID',
      occurredAt: { path: 'StartTime', transforms: ['date'] },
      identifiers: { phones: ['Source'] },
      interaction: {
        channel: { const: 'call' },
        direction: { const: 'inbound' },
        status: { path: 'Disposition', transforms: ['lowercase'] },
        durationSec: { path: 'BillableSeconds', transforms: ['integer'] },
      },
    },
  ],
};

describe('connector framework with the generic webhook connector', () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub({
      store: 'postgres',
      config: {
        connectors: [
          { id: 'sidecar', type: 'webhook', settings: { signature: { scheme: 'hmac-sha256', secret: HMAC_SECRET, header: 'x-hub-signature-256', prefix: 'sha256=' }, eventIdPath: 'UniqueID' }, mapping: sidecarMapping },
          { id: 'records-in', type: 'webhook', settings: { signature: { scheme: 'standard-webhooks', secret: SW_SECRET } } },
        ],
      },
    });
  });
  afterAll(async () => hub?.close());

  function postSigned(body: string, signature: string | null) {
    return hub.app!.inject({
      method: 'POST',
      url: '/v1/webhooks/sidecar',
      headers: { 'content-type': 'application/json', ...(signature ? { 'x-hub-signature-256': signature } : {}) },
      payload: body,
    });
  }

  const cdr = JSON.stringify({ UniqueID: '1700000000.42', Source: '89161112233', StartTime: '2026-11-20 10:15:00', Disposition: 'ANSWERED', BillableSeconds: '95' });
  const sign = (body: string) => `sha256=${createHmac('sha256', HMAC_SECRET).update(body).digest('hex')}`;

  it('refuses a missing or wrong signature with 401 and queues nothing', async () => {
    const before = await hub.connectors.queues[0]!.getJobCounts();
    for (const signature of [null, 'sha256=00', sign(`${cdr} `)]) {
      const res = await postSigned(cdr, signature);
      expect(res.statusCode).toBe(401);
      expect(res.headers['content-type']).toContain('application/problem+json');
    }
    expect(await hub.connectors.queues[0]!.getJobCounts()).toEqual(before);
  });

  it('maps a signed event through its mapping into a call on the right profile, once even when redelivered', async () => {
    for (let i = 0; i < 2; i += 1) expect((await postSigned(cdr, sign(cdr))).statusCode).toBe(202);
    await waitFor(async () => (await hub.request('GET', '/v1/records/asterisk/1700000000.42')).json().status === 'processed');
    await hub.drained();
    const found = (await hub.request('GET', '/v1/profiles?phone=%2B79161112233')).json();
    expect(found.data).toHaveLength(1);
    const timeline = (await hub.request('GET', `/v1/profiles/${found.data[0].id}/timeline`)).json();
    expect(timeline.data).toEqual([expect.objectContaining({ channel: 'call', status: 'answered', durationSec: 95, occurredAt: '2026-11-20T10:15:00.000Z' })]);
    const status = (await hub.request('GET', '/v1/connectors/sidecar')).json();
    expect(status).toMatchObject({ id: 'sidecar', type: 'webhook', status: 'ok', breaker: 'closed', stats: { received: 2, processed: 1, failed: 0 } });
  });

  it('accepts canonical records signed per Standard Webhooks and refuses a stale timestamp', async () => {
    const wh = new Webhook(SW_SECRET);
    const body = JSON.stringify({ source: 'shop', sourceId: 'o-1', kind: 'interaction', identifiers: { emails: ['buyer@example.com'] }, interaction: { channel: 'order', amount: 1200.5, currency: 'RUB' } });
    const send = (timestamp: Date) =>
      hub.app!.inject({
        method: 'POST',
        url: '/v1/webhooks/records-in',
        headers: { 'content-type': 'application/json', 'webhook-id': 'msg_1', 'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)), 'webhook-signature': wh.sign('msg_1', timestamp, body) },
        payload: body,
      });
    expect((await send(new Date(Date.now() - 3600_000))).statusCode).toBe(401);
    expect((await send(new Date())).statusCode).toBe(202);
    await waitFor(async () => (await hub.request('GET', '/v1/records/shop/o-1')).json().status === 'processed');
  });

  it('signs the official Standard Webhooks vector as the spec says, with the same secret format it verifies with', () => {
    const v = vectors['standard_webhooks']!;
    const signed = new Webhook(v['secret']!).sign(v['webhook-id']!, new Date(Number(v['webhook-timestamp']) * 1000), v['raw_body']!);
    expect(signed).toBe(v['expected_webhook-signature']);
  });

  it('verifies the GitHub-style HMAC vector and refuses it tampered', async () => {
    const v = vectors['github_style']!;
    const { webhookConnector } = await import('../../src/connectors/webhook/webhook.connector.js');
    const ctx = { settings: { signature: { scheme: 'hmac-sha256' as const, secret: v['secret']!, header: 'x-hub-signature-256', encoding: 'hex' as const, prefix: 'sha256=' } } };
    const request = (body: string) => ({ method: 'POST', url: '/', headers: { 'x-hub-signature-256': v['expected']! }, query: {}, rawBody: Buffer.from(body), body: undefined });
    expect(() => webhookConnector.webhook!.verify(ctx as never, request(v['raw_body']!))).not.toThrow();
    expect(() => webhookConnector.webhook!.verify(ctx as never, request(`${v['raw_body']!}!`))).toThrow(/does not match/);
  });

  it('previews what a payload becomes through a connector’s mapping, or a given one, storing nothing', async () => {
    const before = await hub.store.counts();
    const viaConnector = await hub.request('POST', '/v1/mappings/preview', { body: { connectorId: 'sidecar', payload: JSON.parse(cdr) } });
    expect(viaConnector.json().records[0]).toMatchObject({ source: 'asterisk', sourceId: '1700000000.42', identifiers: { phones: ['89161112233'] } });
    const bad = await hub.request('POST', '/v1/mappings/preview', { body: { mapping: sidecarMapping, payload: { Source: 'x' } } });
    expect(bad.statusCode).toBe(200);
    expect(bad.json().records).toEqual([]);
    expect(bad.json().errors.length).toBeGreaterThan(0);
    expect(await hub.store.counts()).toEqual(before);
  });

  it('lists connectors and says a webhook connector cannot be run', async () => {
    const list = (await hub.request('GET', '/v1/connectors')).json();
    expect(list.data.map((c: { id: string }) => c.id)).toEqual(['sidecar', 'records-in']);
    expect((await hub.request('POST', '/v1/connectors/sidecar/run')).statusCode).toBe(409);
    expect((await hub.request('POST', '/v1/connectors/nope/test')).statusCode).toBe(404);
    expect((await hub.request('POST', '/v1/webhooks/nope', { key: null, body: {} })).statusCode).toBe(404);
  });
});

describe('connector webhooks under a burst', () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub({
      store: 'pglite',
      config: {
        rateLimit: { webhookMax: 3, windowMs: 60_000 },
        connectors: [{ id: 'bursty', type: 'webhook', settings: { signature: { scheme: 'standard-webhooks', secret: SW_SECRET } } }],
      },
    });
  });
  afterAll(async () => hub?.close());

  it('answers 429 problem+json once a client IP passes rateLimit.webhookMax in the window', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const res = await hub.app!.inject({ method: 'POST', url: '/v1/webhooks/bursty', headers: { 'content-type': 'application/json' }, payload: '{}' });
      statuses.push(res.statusCode);
      if (res.statusCode === 429) expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
  });
});
