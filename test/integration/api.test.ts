import { randomUUID } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES } from '../support/env.js';
import { ADMIN_KEY, SCOPED_KEYS, startTestHub, waitFor, type TestHub } from '../support/hub.js';

type Scope = keyof typeof SCOPED_KEYS;
type Operation = { security?: unknown[]; description?: string };
type OpenApiDocument = { openapi: string; paths: Record<string, Record<string, Operation>> };

/** Plausible values for the path parameters the API uses; an unknown one fails the walk loudly. */
const PATH_PARAMS: Record<string, string> = {
  id: '00000000-0000-4000-8000-000000000000',
  source: 'erp',
  sourceId: 'C-001',
  name: 'ingest',
  formId: 'contact',
  connectorId: 'erp',
  deliveryId: '1',
};

function concretePath(template: string): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = PATH_PARAMS[name];
    if (value === undefined) throw new Error(`no sample value for path parameter {${name}} in ${template}; add one to PATH_PARAMS`);
    return encodeURIComponent(value);
  });
}

function expectProblem(res: LightMyRequestResponse, status: number): Record<string, unknown> {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = res.json() as Record<string, unknown>;
  expect(body).toMatchObject({ type: expect.any(String), title: expect.any(String), status, detail: expect.any(String) });
  return body;
}

function record(sourceId: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { source: 'api-test', sourceId, kind: 'contact', identifiers: { emails: [`${sourceId}@example.com`] }, ...extra };
}

describe.each(STORES)('HTTP API contract on %s', (store) => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub({ store });
  });
  afterAll(async () => hub?.close());

  describe('auth', () => {
    it('refuses every keyed route in the OpenAPI document without a key, with a wrong key, and with a key lacking its scope', async () => {
      const docs = await hub.request('GET', '/docs/json', { key: null });
      expect(docs.statusCode).toBe(200);
      const doc = docs.json() as OpenApiDocument;

      const walked: string[] = [];
      for (const [template, operations] of Object.entries(doc.paths)) {
        for (const [method, operation] of Object.entries(operations)) {
          if (!operation.security || operation.security.length === 0) continue;
          const route = `${method.toUpperCase()} ${template}`;
          const scope = /Scope: `([a-z]+)`/.exec(operation.description ?? '')?.[1] as Scope | undefined;
          expect(scope && scope in SCOPED_KEYS, `${route} names its scope in its description`).toBe(true);
          if (!scope) continue;
          const url = concretePath(template);

          const none = await hub.request(method, url, { key: null });
          expect(expectProblem(none, 401).detail, route).toMatch(/Bearer/);
          for (const authorization of ['Bearer not-a-key', `Bearer ${ADMIN_KEY}x`, `Bearer ${ADMIN_KEY} trailing`, `Token ${ADMIN_KEY}`, 'Bearer ']) {
            const wrong = await hub.request(method, url, { key: null, headers: { authorization } });
            expect(wrong.statusCode, `${route} with "${authorization}"`).toBe(401);
          }
          for (const [other, key] of Object.entries(SCOPED_KEYS)) {
            if (other === scope) continue;
            const forbidden = await hub.request(method, url, { key });
            expect(forbidden.statusCode, `${route} with the ${other} key`).toBe(403);
            expect(expectProblem(forbidden, 403).detail).toContain(scope);
          }
          // The key that has the scope gets past auth (whatever the route then answers).
          const allowed = await hub.request(method, url, { key: SCOPED_KEYS[scope] });
          expect([401, 403], `${route} with the ${scope} key`).not.toContain(allowed.statusCode);
          expect(allowed.statusCode, `${route} with the ${scope} key: ${allowed.body}`).toBeLessThan(500);
          walked.push(route);
        }
      }
      expect(walked).toEqual(
        expect.arrayContaining([
          'POST /v1/records',
          'GET /v1/records/{source}/{sourceId}',
          'GET /v1/profiles',
          'GET /v1/profiles/{id}',
          'GET /v1/profiles/{id}/timeline',
          'GET /v1/queues',
          'POST /v1/queues/{name}/retry-failed',
        ]),
      );
      expect(walked.some((r) => r.includes('/v1/forms/'))).toBe(false);
    });

    it('opens the queue dashboard only for the admin key, as a Bearer token or a Basic-auth password', async () => {
      const none = await hub.request('GET', '/admin/queues', { key: null });
      expectProblem(none, 401);
      expect(none.headers['www-authenticate']).toMatch(/^Basic /);

      const bearer = await hub.request('GET', '/admin/queues');
      expect(bearer.statusCode).toBe(200);
      expect(bearer.headers['content-type']).toMatch(/^text\/html/);

      const basic = await hub.request('GET', '/admin/queues', { key: null, headers: { authorization: `Basic ${Buffer.from(`ops:${ADMIN_KEY}`).toString('base64')}` } });
      expect(basic.statusCode).toBe(200);
      expect(basic.headers['content-type']).toMatch(/^text\/html/);

      const wrongPassword = await hub.request('GET', '/admin/queues', { key: null, headers: { authorization: `Basic ${Buffer.from('ops:nope').toString('base64')}` } });
      expectProblem(wrongPassword, 401);

      for (const scope of ['ingest', 'read', 'write'] as const) {
        expectProblem(await hub.request('GET', '/admin/queues', { key: SCOPED_KEYS[scope] }), 403);
      }
      expect((await hub.request('GET', '/admin/queues', { key: SCOPED_KEYS.admin })).statusCode).toBe(200);
    });
  });

  describe('public routes', () => {
    it('answers /health and /ready without a key', async () => {
      const health = await hub.request('GET', '/health', { key: null });
      expect(health.statusCode).toBe(200);
      expect(health.json()).toEqual({ status: 'ok' });
      const ready = await hub.request('GET', '/ready', { key: null });
      expect(ready.statusCode).toBe(200);
      expect(ready.json()).toMatchObject({ status: 'ready' });
    });

    it('serves the docs UI and an OpenAPI 3 document describing the v1 routes', async () => {
      const ui = await hub.request('GET', '/docs', { key: null });
      // The UI may answer its root with a redirect to its index page.
      const page = ui.statusCode >= 300 && ui.statusCode < 400 ? await hub.request('GET', String(ui.headers['location']), { key: null }) : ui;
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);

      const doc = (await hub.request('GET', '/docs/json', { key: null })).json() as OpenApiDocument;
      expect(doc.openapi).toMatch(/^3\./);
      expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/records', '/v1/profiles/{id}', '/v1/forms/{formId}']));
      expect(doc.paths['/v1/forms/{formId}']?.['post']?.security).toBeUndefined();
    });
  });

  describe('POST /v1/records', () => {
    const json = { 'content-type': 'application/json' };

    it('answers malformed JSON with 400 problem+json', async () => {
      expectProblem(await hub.request('POST', '/v1/records', { body: '{"source": "erp", ', headers: json }), 400);
    });

    it('answers a body that is not JSON with 415', async () => {
      expectProblem(await hub.request('POST', '/v1/records', { body: 'source=erp', headers: { 'content-type': 'text/plain' } }), 415);
      expectProblem(await hub.request('POST', '/v1/records', { body: 'source=erp', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415);
      expectProblem(await hub.request('POST', '/v1/records', { body: '<record/>', headers: { 'content-type': 'application/xml' } }), 415);
    });

    it('answers a body over the 16 MiB limit with 413', async () => {
      const body = JSON.stringify(record('huge', { traits: { note: 'x'.repeat(17_000_000) } }));
      expectProblem(await hub.request('POST', '/v1/records', { body, headers: json }), 413);
    });

    it('rejects a whole batch with 400 listing each bad record by index and path, and enqueues nothing', async () => {
      const before = await hub.ingest.queue.getJobCounts();
      const records = [
        record('ok-0'),
        { ...record('bad-1'), source: 'Not A Source!', favouriteColour: 'green' },
        record('ok-2'),
        { source: 'api-test', sourceId: 'bad-3', identifiers: { emails: [42] } },
        record('ok-4'),
      ];
      const res = await hub.request('POST', '/v1/records', { body: { records } });
      const problem = expectProblem(res, 400) as { detail: string; errors: { path: string; message: string }[] };
      const paths = problem.errors.map((e) => e.path);
      expect(paths.length).toBeGreaterThanOrEqual(4);
      expect(paths.every((p) => p.startsWith('/records/1') || p.startsWith('/records/3')), paths.join(', ')).toBe(true);
      expect(paths).toEqual(expect.arrayContaining(['/records/1/source', '/records/3/identifiers/emails/0']));
      expect(problem.errors).toEqual(
        expect.arrayContaining([
          { path: '/records/1', message: 'unknown property "favouriteColour"' },
          { path: '/records/3', message: 'missing property "kind"' },
        ]),
      );
      expect(problem.detail).toMatch(/records 1, 3 are invalid/);
      expect(await hub.ingest.queue.getJobCounts()).toEqual(before);
      for (const sourceId of ['ok-0', 'ok-2', 'ok-4']) expect((await hub.request('GET', `/v1/records/api-test/${sourceId}`)).statusCode).toBe(404);
    });

    it('rejects a batch of more than 1000 records with 400', async () => {
      const records = Array.from({ length: 1001 }, (_, i) => record(`many-${i}`));
      const problem = expectProblem(await hub.request('POST', '/v1/records', { body: { records } }), 400);
      expect(problem.detail).toMatch(/^the batch is invalid.*1000/);
    });

    it('rejects an empty batch, a JSON array and an empty body with 400', async () => {
      expectProblem(await hub.request('POST', '/v1/records', { body: { records: [] } }), 400);
      expectProblem(await hub.request('POST', '/v1/records', { body: [record('in-array')] }), 400);
      expectProblem(await hub.request('POST', '/v1/records'), 400);
    });

    it('accepts a single record and a batch with 202 and the count', async () => {
      const one = await hub.request('POST', '/v1/records', { body: record('single-1') });
      expect(one.statusCode, one.body).toBe(202);
      expect(one.json()).toEqual({ accepted: 1 });
      const batch = await hub.request('POST', '/v1/records', { body: { records: [record('batch-1'), record('batch-2'), record('batch-3')] } });
      expect(batch.statusCode, batch.body).toBe(202);
      expect(batch.json()).toEqual({ accepted: 3 });
      await hub.drained();
    });

    it('reports a record queued, then processed with its profile and processing time', async () => {
      const sourceId = `life-${randomUUID()}`;
      expect((await hub.request('POST', '/v1/records', { body: record(sourceId) })).statusCode).toBe(202);
      const first = await hub.request('GET', `/v1/records/api-test/${sourceId}`);
      expect(first.statusCode, first.body).toBe(200);
      expect(['queued', 'processed']).toContain(first.json().status);

      let status: Record<string, unknown> = {};
      await waitFor(async () => {
        status = (await hub.request('GET', `/v1/records/api-test/${sourceId}`)).json() as Record<string, unknown>;
        return status['status'] === 'processed';
      });
      expect(status).toMatchObject({ source: 'api-test', sourceId, kind: 'contact', status: 'processed', profileId: expect.any(String) });
      expect(Date.parse(String(status['processedAt']))).toBeGreaterThanOrEqual(Date.parse(String(status['receivedAt'])));
      const profile = await hub.request('GET', `/v1/profiles/${String(status['profileId'])}`);
      expect(profile.statusCode).toBe(200);
    });
  });

  describe('reads', () => {
    it('answers an unknown record with 404', async () => {
      expectProblem(await hub.request('GET', '/v1/records/erp/never-sent'), 404);
    });

    it('answers an unknown profile id and a malformed one with 404', async () => {
      expectProblem(await hub.request('GET', `/v1/profiles/${randomUUID()}`), 404);
      expectProblem(await hub.request('GET', '/v1/profiles/not-a-uuid'), 404);
      expectProblem(await hub.request('GET', `/v1/profiles/${randomUUID()}/timeline`), 404);
    });

    it('rejects a forged timeline cursor with 400', async () => {
      await hub.request('POST', '/v1/records', { body: { source: 'pbx', sourceId: 'cursor-1', kind: 'interaction', identifiers: { phones: ['+7 912 000 00 01'] }, interaction: { channel: 'call' } } });
      await hub.drained();
      const { profileId } = (await hub.request('GET', '/v1/records/pbx/cursor-1')).json();
      const forged = Buffer.from(JSON.stringify(['x', 'y', 'z'])).toString('base64url');
      expectProblem(await hub.request('GET', `/v1/profiles/${profileId}/timeline?cursor=${forged}`), 400);
    });

    it('rejects bad profile lookups with 400', async () => {
      const twoIdentifiers = expectProblem(await hub.request('GET', '/v1/profiles?email=a%40example.com&phone=%2B79161234567'), 400);
      expect(twoIdentifiers['errors']).toEqual(expect.arrayContaining([expect.objectContaining({ path: '/querystring/email' })]));
      expectProblem(await hub.request('GET', '/v1/profiles?email=not-an-email'), 400);
      expectProblem(await hub.request('GET', '/v1/profiles?phone=abc'), 400);
      expectProblem(await hub.request('GET', '/v1/profiles?externalId=no-colon'), 400);
      expectProblem(await hub.request('GET', '/v1/profiles?cursor=definitely-not-a-cursor'), 400);
      // Well-formed but forged cursors must not reach the SQL casts.
      const forged = (parts: string[]) => Buffer.from(JSON.stringify(parts)).toString('base64url');
      expectProblem(await hub.request('GET', `/v1/profiles?cursor=${forged(['x', 'y'])}`), 400);
      expectProblem(await hub.request('GET', `/v1/profiles?cursor=${forged(['2026-01-01T00:00:00Z', 'y'])}`), 400);
      expectProblem(await hub.request('GET', '/v1/profiles?limit=5000'), 400);
      expectProblem(await hub.request('GET', '/v1/profiles?limit=0'), 400);
      expectProblem(await hub.request('GET', '/v1/profiles?updatedSince=yesterday'), 400);
      const unknown = expectProblem(await hub.request('GET', '/v1/profiles?colour=red'), 400);
      expect(unknown['detail']).toContain('colour');
    });

    it('lists profiles with data and nextCursor', async () => {
      const res = await hub.request('GET', '/v1/profiles?limit=1');
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ data: expect.any(Array), nextCursor: expect.toSatisfy((c: unknown) => c === null || typeof c === 'string') });
    });

    it('pages through every live profile once, however close their update times', async () => {
      for (let i = 0; i < 5; i += 1) await hub.request('POST', '/v1/records', { body: record(`paging-${i}`) });
      for (let i = 0; i < 5; i += 1) await hub.processed('api-test', `paging-${i}`);
      await hub.drained();
      const all = (await hub.request('GET', '/v1/profiles?limit=1000')).json() as { data: { id: string }[]; nextCursor: string | null };
      expect(all.nextCursor).toBeNull();
      const paged: string[] = [];
      let cursor: string | null = null;
      // Bounded: a cursor that lost precision would hand back the same page for ever.
      for (let page = 0; page <= all.data.length; page += 1) {
        const res = await hub.request('GET', `/v1/profiles?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        expect(res.statusCode, res.body).toBe(200);
        const body = res.json() as { data: { id: string }[]; nextCursor: string | null };
        paged.push(...body.data.map((p) => p.id));
        cursor = body.nextCursor;
        if (!cursor) break;
      }
      expect(cursor).toBeNull();
      expect(paged).toEqual(all.data.map((p) => p.id));
    });
  });

  describe('queues and unknown routes', () => {
    it('lists the ingest queue with numeric counts', async () => {
      const res = await hub.request('GET', '/v1/queues');
      expect(res.statusCode).toBe(200);
      const ingest = (res.json().data as { name: string }[]).find((q) => q.name === 'ingest');
      expect(ingest).toEqual({ name: 'ingest', waiting: expect.any(Number), active: expect.any(Number), delayed: expect.any(Number), failed: expect.any(Number), completed: expect.any(Number) });
    });

    it('retries the failed jobs of a known queue and answers 404 for an unknown one', async () => {
      const res = await hub.request('POST', '/v1/queues/ingest/retry-failed');
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toEqual({ retried: expect.any(Number) });
      expect(expectProblem(await hub.request('POST', '/v1/queues/nope/retry-failed'), 404).detail).toContain('ingest');
    });

    it('answers an unknown route with 404 problem+json', async () => {
      expectProblem(await hub.request('GET', '/v1/nothing-here'), 404);
      expectProblem(await hub.request('GET', '/v1/nothing-here', { key: null }), 404);
      expectProblem(await hub.request('DELETE', '/v1/records'), 404);
    });
  });
});
