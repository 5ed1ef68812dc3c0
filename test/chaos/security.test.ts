import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import axios from 'axios';
import type { LightMyRequestResponse } from 'fastify';
import { chromium } from 'playwright-core';
import { Webhook } from 'standardwebhooks';
import type { DestinationStream } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createKeyRing, sha256Hex } from '../../src/core/api/auth.js';
import { parseConfig } from '../../src/core/config/load-config.js';
import { createHub } from '../../src/core/hub.js';
import { createLogger } from '../../src/core/logger.js';
import { REDIS_URL } from '../support/env.js';
import { ADMIN_KEY, createTestDb, dropRedisPrefix, SCOPED_KEYS, startTestHub, type TestHub } from '../support/hub.js';
import { report } from './support.js';

// Counts constant-time comparisons, to show that a key is compared with every stored key.
const compared = vi.hoisted(() => ({ count: 0 }));
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  return {
    ...real,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      compared.count += 1;
      return real.timingSafeEqual(a, b);
    },
  };
});

const HMAC_SECRET = 'chaos-security-hmac-secret-42';
const SW_SECRET = `whsec_${Buffer.from('chaos-security-standard-secret!!').toString('base64')}`;
/** Public by design; anything else in the OpenAPI document must ask for a key. */
// /metrics is public by default, as Prometheus scrapers carry no token (metrics.requireKey: true closes it).
const PUBLIC_ROUTES = [/^GET \/health$/, /^GET \/ready$/, /^GET \/metrics$/, /^(GET|POST) \/v1\/webhooks\/\{connectorId\}(\/\{\*\})?$/, /^POST \/v1\/forms\/\{formId\}$/, /^GET \/v1\/forms\/\{formId\}\/embed\.js$/, /^OPTIONS /];
const PATH_PARAMS: Record<string, string> = { id: '00000000-0000-4000-8000-000000000000', source: 'erp', sourceId: 'C-001', name: 'ingest', formId: 'contact', connectorId: 'hooks' };

type Operation = { security?: unknown[]; description?: string };

function expectProblem(res: LightMyRequestResponse, status: number): void {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
}

describe('security', () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub({
      store: 'pglite',
      config: {
        forms: [{ id: 'contact', fields: { email: 'email', name: 'fullName' } }],
        connectors: [
          { id: 'hooks', type: 'webhook', settings: { signature: { scheme: 'hmac-sha256', secret: HMAC_SECRET, header: 'x-signature', prefix: 'sha256=' } } },
          { id: 'std', type: 'webhook', settings: { signature: { scheme: 'standard-webhooks', secret: SW_SECRET } } },
        ],
        rateLimit: { publicMax: 5, windowMs: 60_000 },
      },
    });
  });
  afterAll(async () => hub?.close());

  const events = async () => Object.values(await hub.connectors.queues[0]!.getJobCounts()).reduce((a, b) => a + b, 0);

  it('every route in the OpenAPI document is public by design or answers 401 without a key and 403 with a key lacking its scope', async () => {
    const doc = (await hub.request('GET', '/docs/json', { key: null })).json() as { paths: Record<string, Record<string, Operation>> };
    let keyed = 0;
    const open: string[] = [];
    for (const [template, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const route = `${method.toUpperCase()} ${template}`;
        if (!operation.security?.length) {
          open.push(route);
          expect(PUBLIC_ROUTES.some((p) => p.test(route)), `${route} has no security: add it to the reviewed public routes or give it a scope`).toBe(true);
          continue;
        }
        const scope = /Scope: `([a-z]+)`/.exec(operation.description ?? '')?.[1] as keyof typeof SCOPED_KEYS;
        const url = template.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(PATH_PARAMS[name] ?? 'x'));
        expectProblem(await hub.request(method, url, { key: null }), 401);
        for (const [other, key] of Object.entries(SCOPED_KEYS)) if (other !== scope) expectProblem(await hub.request(method, url, { key }), 403);
        keyed += 1;
      }
    }
    report('7-openapi-auth-walk', { keyedOperations: keyed, publicOperations: open });
    expect(keyed).toBeGreaterThan(10);
  });

  it('inbound webhooks refuse bad, missing and replayed signatures with 401 and queue nothing', async () => {
    const body = JSON.stringify({ source: 'wh', sourceId: 'w-1', kind: 'contact', identifiers: { emails: ['w1@example.com'] } });
    const hmac = (text: string) => `sha256=${createHmac('sha256', HMAC_SECRET).update(text).digest('hex')}`;
    const post = (url: string, headers: Record<string, string>, payload = body) => hub.app!.inject({ method: 'POST', url, headers: { 'content-type': 'application/json', ...headers }, payload });
    const before = await events();

    const sw = new Webhook(SW_SECRET);
    const swHeaders = (id: string, at: Date, text = body) => ({ 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': sw.sign(id, at, text) });
    const refused = [
      await post('/v1/webhooks/hooks', {}),
      await post('/v1/webhooks/hooks', { 'x-signature': 'sha256=00' }),
      await post('/v1/webhooks/hooks', { 'x-signature': hmac(body) }, `${body} `),
      await post('/v1/webhooks/hooks', { 'x-signature': createHmac('sha256', 'another-secret-entirely!!').update(body).digest('hex') }),
      await post('/v1/webhooks/std', {}),
      await post('/v1/webhooks/std', { ...swHeaders('msg_bad', new Date()), 'webhook-signature': 'v1,AAAA' }),
      // replayed: a genuine signature, but ten minutes old, or from the future
      await post('/v1/webhooks/std', swHeaders('msg_old', new Date(Date.now() - 10 * 60_000))),
      await post('/v1/webhooks/std', swHeaders('msg_future', new Date(Date.now() + 10 * 60_000))),
    ];
    for (const res of refused) expectProblem(res, 401);
    expect(await events()).toBe(before);

    // The same requests signed rightly get through: the refusals above are the signatures' doing.
    expect((await post('/v1/webhooks/hooks', { 'x-signature': hmac(body) })).statusCode).toBeLessThan(300);
    expect((await post('/v1/webhooks/std', swHeaders('msg_ok', new Date()))).statusCode).toBeLessThan(300);
    report('7-webhook-signatures', { refusedWith401: refused.length, acceptedWhenSigned: 2 });
  });

  it('stores keys as SHA-256 hashes only and compares a presented key with every stored key in constant time', () => {
    expect(() => parseConfig({ auth: { keys: [{ name: 'k', key: 'plain-text-key', scopes: ['read'] }] } })).toThrow(/key/);
    const ring = createKeyRing(
      ['a', 'b', 'c', 'd'].map((n) => ({ name: n, sha256: sha256Hex(`key-${n}`), scopes: ['read' as const] })),
      'bootstrap-key',
    );
    for (const presented of ['key-a', 'key-d', 'bootstrap-key', 'nope']) {
      compared.count = 0;
      ring.verify(presented);
      // The first key matching ends nothing early: five stored keys, five comparisons, whichever matched.
      expect(compared.count, presented).toBe(5);
    }
  });

  it('rate limits the public form route per client IP with 429 problem+json; X-Forwarded-For does not reset it', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i += 1) {
      const res = await hub.app!.inject({ method: 'POST', url: '/v1/forms/contact', headers: { 'content-type': 'application/json', 'x-forwarded-for': `10.0.0.${i}` }, payload: { email: `r${i}@example.com` } });
      statuses.push(res.statusCode);
      if (res.statusCode === 429) expectProblem(res, 429);
    }
    expect(statuses.slice(0, 5).every((s) => s === 202)).toBe(true);
    expect(statuses.slice(5)).toEqual([429, 429, 429]);
    report('7-rate-limit', { formPosts: statuses });
  });

  it('sends security headers on every answer: reads, refusals, problems, 404s, the docs and a worker\'s metrics; the embed script may be loaded by other sites', async () => {
    const expectHeaders = (res: LightMyRequestResponse, what: string, crossOrigin = false) => {
      expect(res.headers['content-security-policy'], what).toMatch(/default-src 'self'/);
      expect(res.headers['content-security-policy'], what).not.toMatch(/upgrade-insecure-requests/);
      expect(res.headers['x-content-type-options'], what).toBe('nosniff');
      expect(res.headers['strict-transport-security'], what).toMatch(/max-age=/);
      expect(res.headers['x-frame-options'], what).toBe('SAMEORIGIN');
      expect(res.headers['cross-origin-resource-policy'], what).toBe(crossOrigin ? 'cross-origin' : 'same-origin');
      expect(res.headers['x-powered-by'], what).toBeUndefined();
    };
    const answers = [
      ['/health', null, 200],
      ['/v1/profiles', ADMIN_KEY, 200],
      ['/v1/profiles', null, 401],
      ['/v1/profiles', SCOPED_KEYS.ingest, 403],
      ['/v1/profiles?limit=0', ADMIN_KEY, 400],
      ['/v1/profiles/not-a-uuid', ADMIN_KEY, 404],
      ['/nowhere', null, 404],
    ] as const;
    for (const [url, key, status] of answers) {
      const res = await hub.request('GET', url, { key });
      expect(res.statusCode, url).toBe(status);
      expectHeaders(res, `${url} (${status})`);
    }
    expectHeaders(await hub.request('GET', '/docs', { key: null }), '/docs');
    // The embed snippet is loaded by other sites.
    expectHeaders(await hub.request('GET', '/v1/forms/contact/embed.js', { key: null }), 'embed.js', true);

    // A worker's own server (health, metrics) is built on the same base as the API.
    const worker = await startTestHub({ store: 'postgres', role: 'worker' });
    try {
      for (const url of ['/metrics', '/health', '/nowhere']) expectHeaders(await worker.operations!.inject({ method: 'GET', url }), `worker ${url}`);
    } finally {
      await worker.close();
    }
  });

  it('renders the docs UI and the queue dashboard under the CSP', async () => {
    expect(existsSync('/usr/bin/chromium'), 'Chromium at /usr/bin/chromium (.ci/run installs it)').toBe(true);
    await hub.app!.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(hub.app!.server.address() as AddressInfo).port}`;
    const profile = mkdtempSync(join(tmpdir(), 'crm-hub-chaos-chromium-'));
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
      httpCredentials: { username: 'ops', password: ADMIN_KEY },
    });
    try {
      for (const [path, shows] of [['/docs', 'POST/v1/records'], ['/admin/queues', 'ingest']] as const) {
        const page = await browser.newPage();
        const blocked: string[] = [];
        page.on('console', (m) => {
          if (/Content Security Policy|Refused to/i.test(m.text())) blocked.push(m.text());
        });
        await page.goto(base + path);
        await page.waitForFunction((text) => document.body.innerText.replace(/\s+/g, '').includes(text), shows, { timeout: 20_000 });
        expect(blocked, path).toEqual([]);
      }
    } finally {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    }
  });
});

describe('log redaction', () => {
  it('keeps API keys, authorization headers, connector secrets and passwords out of the logs', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const log = createLogger({ level: 'trace', destination: sink as unknown as DestinationStream });
    const secrets = { apiKey: 'sk-live-REDACTME-1', basic: 'REDACTME-basic-pw', hmac: 'REDACTME-hmac-secret-000', password: 'REDACTME-config-pw', token: 'REDACTME-bearer-token' };

    // A whole hub on this logger, at trace level, taking keyed requests and a signed webhook.
    const testDb = await createTestDb('pglite');
    const prefix = `chaos-redact-${Date.now()}`;
    const config = parseConfig({
      auth: { keys: [{ name: 'ops', sha256: sha256Hex(secrets.apiKey), scopes: ['admin', 'read', 'ingest', 'write'] }] },
      connectors: [{ id: 'hooks', type: 'webhook', settings: { signature: { scheme: 'hmac-sha256', secret: secrets.hmac, header: 'x-signature' } } }],
    });
    const hub = await createHub({ role: 'api', config, db: testDb.db, redisUrl: REDIS_URL, prefix, log });
    try {
      await hub.app!.inject({ method: 'GET', url: '/v1/profiles', headers: { authorization: `Bearer ${secrets.apiKey}` } });
      await hub.app!.inject({ method: 'GET', url: '/v1/profiles', headers: { authorization: `Bearer ${secrets.apiKey}x` } });
      await hub.app!.inject({ method: 'GET', url: '/admin/queues', headers: { authorization: `Basic ${Buffer.from(`ops:${secrets.basic}`).toString('base64')}` } });
      await hub.app!.inject({ method: 'POST', url: '/v1/webhooks/hooks', headers: { 'content-type': 'application/json', 'x-signature': 'bad' }, payload: '{}' });
    } finally {
      await hub.close();
      await testDb.drop();
      await dropRedisPrefix(prefix);
    }

    // What code might log: a connector with its settings, the config, request headers, and an HTTP
    // client's error, which carries the request's auth and headers.
    log.info({ connector: { id: 'crm', settings: { password: secrets.password, auth: { token: secrets.token } } } }, 'connector');
    log.info({ config: { auth: { keys: [{ sha256: sha256Hex(secrets.apiKey) }] }, connectors: [{ settings: { secret: secrets.hmac } }] } }, 'config');
    log.info({ req: { headers: { authorization: `Bearer ${secrets.apiKey}` } }, upstream: { headers: { Authorization: `Bearer ${secrets.token}` } } }, 'headers');
    const server: Server = createServer((_req, res) => res.writeHead(401).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      await axios.get(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api`, { headers: { Authorization: `Bearer ${secrets.token}` }, auth: { username: 'u', password: secrets.password } });
    } catch (err) {
      log.warn({ err }, 'upstream refused');
    } finally {
      server.close();
    }

    const output = lines.join('');
    expect(lines.length).toBeGreaterThan(5);
    expect(output).toContain('[redacted]');
    for (const [name, secret] of Object.entries(secrets)) expect(output.includes(secret), `${name} leaked into the log: ${lines.find((l) => l.includes(secret))}`).toBe(false);
    expect(output).not.toContain(sha256Hex(secrets.apiKey));
    const basicAuth = Buffer.from(`u:${secrets.password}`).toString('base64');
    expect(output.includes(basicAuth), lines.find((l) => l.includes(basicAuth))).toBe(false);
    report('7-log-redaction', { lines: lines.length, secretsChecked: Object.keys(secrets).length, leaked: 0 });
  });
});
