import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES } from '../support/env.js';
import { startTestHub, waitFor, type TestHub } from '../support/hub.js';
import { startSubscriber, type Subscriber } from '../support/subscriber.js';
import { createUrlGuard, isPublicAddress, PRIVATE_ADDRESS } from '../../src/core/events/url-guard.js';

// Subscription URLs must not reach into the hub's own network (SSRF), unless
// events.allowPrivateUrls says so: refused when given, and refused again at delivery, after DNS.

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

describe('which addresses a subscriber may be at', () => {
  it('only public unicast ones, whatever form an address takes', () => {
    for (const address of [
      '127.0.0.1',
      '127.8.9.10',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '255.255.255.255',
      '198.18.0.1',
      '::',
      '::1',
      'fe80::1',
      'fc00::1',
      'fd12:3456::1',
      '::ffff:127.0.0.1',
      '::ffff:10.0.0.1',
      '64:ff9b::a00:1',
      '2002:7f00:1::',
      'ff02::1',
      'not an address',
    ]) {
      expect(isPublicAddress(address), address).toBe(false);
    }
    for (const address of ['93.184.216.34', '8.8.8.8', '172.32.0.1', '2606:4700::1111', '2a00:1450:4010:c05::8a', '::ffff:8.8.8.8']) {
      expect(isPublicAddress(address), address).toBe(true);
    }
  });

  it('checks every address a name resolves to, and connects only to checked ones', async () => {
    const answers: Record<string, { address: string; family: number }[]> = {
      'mixed.example': [
        { address: '93.184.216.34', family: 4 },
        { address: '10.0.0.7', family: 4 },
      ],
      'public.example': [
        { address: '93.184.216.34', family: 4 },
        { address: '2606:4700::1111', family: 6 },
      ],
    };
    const guard = createUrlGuard({ allowPrivate: false, resolve: async (host) => answers[host] ?? Promise.reject(new Error('ENOTFOUND')) });
    await expect(guard.lookup?.('mixed.example', {})).rejects.toMatchObject({ code: PRIVATE_ADDRESS, message: expect.stringContaining('10.0.0.7') });
    expect(await guard.lookup?.('public.example', {})).toEqual([answers['public.example']]);
    await expect(guard.check('https://mixed.example/hook')).rejects.toMatchObject({ status: 400 });
    await guard.check('https://public.example/hook');
    // A name that does not resolve now is checked again when a delivery resolves it.
    await guard.check('https://nowhere.example/hook');
    expect(guard.refusedLiteral('http://[::1]:8080/hook')).toMatch(/allowPrivateUrls/);
    expect(guard.refusedLiteral('https://public.example/hook')).toBeNull();

    const open = createUrlGuard({ allowPrivate: true });
    await open.check('http://127.0.0.1/hook');
    expect(open.lookup).toBeUndefined();
  });
});

describe.each(STORES)('subscription URLs on %s', (store) => {
  let hub: TestHub;
  let subscriber: Subscriber;
  beforeAll(async () => {
    subscriber = await startSubscriber();
    hub = await startTestHub({ store, config: { events: { allowPrivateUrls: false, relayEveryMs: 50, sweepEveryMs: 300, attempts: 3, backoffMs: 100, timeoutMs: 2000 } } });
  });
  afterAll(async () => {
    await hub?.close();
    await subscriber?.close();
  });

  it('refuses, with a 400, URLs at loopback, private, link-local or reserved addresses, written any way', async () => {
    const port = new URL(subscriber.url()).port;
    for (const url of [
      subscriber.url('/hook'),
      `http://localhost:${port}/hook`,
      'http://[::1]/hook',
      'http://169.254.169.254/latest/meta-data/',
      'http://10.0.0.5/hook',
      'https://192.168.0.10/hook',
      'http://2130706433/hook',
      'http://0x7f.1/hook',
      'http://[::ffff:127.0.0.1]/hook',
    ]) {
      const res = await hub.request('POST', '/v1/subscriptions', { body: { url, events: ['*'] } });
      expect(res.statusCode, url).toBe(400);
      expect(res.headers['content-type'], url).toMatch(/^application\/problem\+json/);
      expect(res.json().errors, url).toEqual([{ path: '/url', message: 'not a public address' }]);
    }
    // A public address is taken (nothing is sent to it until an event comes).
    const ok = await hub.request('POST', '/v1/subscriptions', { body: { url: 'https://93.184.216.34/hook', events: ['alert.*'], secret: SECRET } });
    expect(ok.statusCode, ok.body).toBe(201);
    const moved = await hub.request('PATCH', `/v1/subscriptions/${ok.json().id}`, { body: { url: 'http://172.16.5.5/hook' } });
    expect(moved.statusCode).toBe(400);
    await hub.request('DELETE', `/v1/subscriptions/${ok.json().id}`);
  });

  it('refuses at delivery a URL that leads into the network, by address or by name, and disables its subscription at once', async () => {
    // As if made while allowPrivateUrls was on: the store takes them as they are.
    const byAddress = await hub.events.store.create({ url: subscriber.url('/by-address'), events: ['profile.created'], secret: SECRET });
    const byName = await hub.events.store.create({ url: `http://localhost:${new URL(subscriber.url()).port}/by-name`, events: ['profile.created'], secret: SECRET });
    const res = await hub.request('POST', '/v1/records', { body: { records: [{ source: 'erp', sourceId: 'ssrf-1', kind: 'contact', identifiers: { emails: ['ssrf@example.com'] } }] } });
    expect(res.statusCode).toBe(202);
    for (const { id } of [byAddress, byName]) {
      await waitFor(async () => (await hub.request('GET', `/v1/subscriptions/${id}`)).json().status === 'disabled');
      const shown = (await hub.request('GET', `/v1/subscriptions/${id}`)).json();
      expect(shown.disabledReason).toMatch(/refused.*allowPrivateUrls/);
      const log = (await hub.request('GET', `/v1/subscriptions/${id}/deliveries`)).json().data;
      expect(log[0]).toMatchObject({ attempts: 1, lastResponse: null, error: expect.stringMatching(/127\.0\.0\.1|::1|loopback/) });
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(subscriber.received).toEqual([]);
  });
});
