import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES } from '../support/env.js';
import { ADMIN_KEY, SCOPED_KEYS, startTestHub, waitFor, type TestHub } from '../support/hub.js';
import type { AuditEntry as Entry } from '../../src/core/audit/audit.store.js';


describe.each(STORES)('audit log on %s', (store) => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub({ store });
  });
  afterAll(async () => hub?.close());

  async function entries(query = ''): Promise<Entry[]> {
    const res = await hub.request('GET', `/v1/audit?limit=1000${query}`);
    expect(res.statusCode, res.body).toBe(200);
    return (res.json() as { data: Entry[] }).data;
  }

  /** The audit row is written after the answer is sent: wait until it is there. */
  async function entryFor(match: (e: Entry) => boolean): Promise<Entry> {
    let found: Entry | undefined;
    await waitFor(async () => {
      found = (await entries()).find(match);
      return found !== undefined;
    }, 5000);
    return found!;
  }

  it('records admin and write actions with the key name, route pattern, params, outcome and client IP', async () => {
    const replay = await hub.request('POST', '/v1/queues/ingest/retry-failed', { key: SCOPED_KEYS.admin });
    expect(replay.statusCode).toBe(200);
    const replayed = await entryFor((e) => e.action === 'POST /v1/queues/:name/retry-failed');
    expect(replayed).toMatchObject({ actor: 'key-admin', keyFingerprint: null, method: 'POST', route: '/v1/queues/:name/retry-failed', params: { name: 'ingest' }, status: 200, ip: '127.0.0.1' });
    expect(Date.parse(replayed.at)).toBeGreaterThan(Date.now() - 60_000);

    // A failed admin action is recorded with its outcome.
    expect((await hub.request('POST', '/v1/connectors/nope/test')).statusCode).toBe(404);
    expect(await entryFor((e) => e.action === 'POST /v1/connectors/:id/test')).toMatchObject({ actor: 'HUB_API_KEY', params: { id: 'nope' }, status: 404, summary: 'failed (404)' });
    expect((await hub.request('POST', '/v1/connectors/nope/run', { key: SCOPED_KEYS.admin })).statusCode).toBe(404);
    await entryFor((e) => e.action === 'POST /v1/connectors/:id/run' && e.actor === 'key-admin');

    const unknownProfile = '00000000-0000-4000-8000-00000000a0d1';
    expect((await hub.request('DELETE', `/v1/profiles/${unknownProfile}`, { key: SCOPED_KEYS.write })).statusCode).toBe(404);
    expect(await entryFor((e) => e.action === 'DELETE /v1/profiles/:id')).toMatchObject({ actor: 'key-write', status: 404, profileIds: [unknownProfile] });
    expect((await hub.request('DELETE', `/v1/profiles/${unknownProfile}`, { key: SCOPED_KEYS.read })).statusCode).toBe(403);
    expect(await entryFor((e) => e.action === 'DELETE /v1/profiles/:id' && e.status === 403)).toMatchObject({ actor: 'key-read', summary: 'refused: the key lacks the "write" scope' });
  });

  it('records refused keys without the key: unknown keys by fingerprint, known keys lacking the scope by name', async () => {
    const wrongKey = `wrong-${Date.now()}-secret`;
    const bad = await hub.request('POST', '/v1/records', { key: wrongKey, body: { source: 'audit', sourceId: '1', kind: 'contact' } });
    expect(bad.statusCode).toBe(401);
    const refused = await entryFor((e) => e.action === 'POST /v1/records' && e.status === 401);
    expect(refused.actor).toBe('unknown');
    expect(refused.keyFingerprint).toBe(`sha256:${createHash('sha256').update(wrongKey).digest('hex').slice(0, 12)}`);
    expect(JSON.stringify(refused)).not.toContain(wrongKey);

    expect((await hub.request('GET', '/v1/profiles', { key: null })).statusCode).toBe(401);
    expect(await entryFor((e) => e.action === 'GET /v1/profiles' && e.status === 401)).toMatchObject({ actor: 'unknown', keyFingerprint: null });

    expect((await hub.request('POST', '/v1/queues/ingest/retry-failed', { key: SCOPED_KEYS.write })).statusCode).toBe(403);
    expect(await entryFor((e) => e.action === 'POST /v1/queues/:name/retry-failed' && e.status === 403)).toMatchObject({ actor: 'key-write', keyFingerprint: null, summary: 'refused: the key lacks the "admin" scope' });

    // The queue dashboard checks keys itself (also as a Basic-auth password): refusals are recorded too.
    const basic = `Basic ${Buffer.from('ops:not-the-key').toString('base64')}`;
    expect((await hub.request('GET', '/admin/queues', { key: null, headers: { authorization: basic } })).statusCode).toBe(401);
    const board = await entryFor((e) => e.route.startsWith('/admin/queues') && e.status === 401);
    expect(board.keyFingerprint).toBe(`sha256:${createHash('sha256').update('not-the-key').digest('hex').slice(0, 12)}`);

    // Every row, whatever its action: no presented key in clear (the scoped test keys are named as they read, so not those).
    const all = JSON.stringify(await entries());
    for (const secret of [wrongKey, 'not-the-key', ADMIN_KEY]) expect(all).not.toContain(secret);
  });

  it('does not record reads nor successful ingest', async () => {
    const sourceId = `quiet-${Date.now()}`;
    expect((await hub.request('POST', '/v1/records', { key: SCOPED_KEYS.ingest, body: { source: 'audit', sourceId, kind: 'contact' } })).statusCode).toBe(202);
    expect((await hub.request('GET', '/v1/queues')).statusCode).toBe(200);
    // A write recorded after them: once it is in, the hook has run for the earlier requests too.
    expect((await hub.request('POST', '/v1/queues/ingest/retry-failed', { key: SCOPED_KEYS.admin })).statusCode).toBe(200);
    await waitFor(async () => (await entries()).filter((e) => e.action === 'POST /v1/queues/:name/retry-failed').length >= 2, 5000);
    const all = await entries();
    expect(all.filter((e) => e.action === 'POST /v1/records' && e.status === 202)).toEqual([]);
    expect(all.filter((e) => e.action === 'GET /v1/queues' || e.action === 'GET /v1/audit')).toEqual([]);
  });

  it('pages newest first with a cursor, filtered by actor and action', async () => {
    const actor = SCOPED_KEYS.admin;
    for (let i = 0; i < 5; i += 1) expect((await hub.request('POST', `/v1/connectors/page-${i}/test`, { key: actor })).statusCode).toBe(404);
    const action = encodeURIComponent('POST /v1/connectors/:id/test');
    await waitFor(async () => (await entries(`&actor=${actor}&action=${action}`)).length >= 5, 5000);

    const seen: Entry[] = [];
    let cursor: string | null = null;
    do {
      const res = await hub.request('GET', `/v1/audit?limit=2&actor=${actor}&action=${action}${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.statusCode, res.body).toBe(200);
      const page = res.json() as { data: Entry[]; nextCursor: string | null };
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data);
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen.map((e) => e.params['id'])).toEqual(['page-4', 'page-3', 'page-2', 'page-1', 'page-0']);
    expect(seen.every((e) => e.actor === actor && e.action === 'POST /v1/connectors/:id/test')).toBe(true);
    const ids = seen.map((e) => Number(e.id));
    expect([...ids].sort((a, b) => b - a)).toEqual(ids);

    expect((await hub.request('GET', '/v1/audit?cursor=bm90LWFuLWlk')).statusCode).toBe(400);
    expect((await hub.request('GET', '/v1/audit', { key: SCOPED_KEYS.write })).statusCode).toBe(403);
  });
});

describe('audit log that cannot be written', () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub({ store: 'pglite' });
  });
  afterAll(async () => hub?.close());

  it('answers the action as if nothing happened: a failed audit write is never the client error', async () => {
    await hub.testDb.db.query('ALTER TABLE audit_log RENAME TO audit_log_gone');
    const replay = await hub.request('POST', '/v1/queues/ingest/retry-failed', { key: SCOPED_KEYS.admin });
    expect(replay.statusCode, replay.body).toBe(200);
    expect(replay.json()).toEqual({ retried: 0 });
    expect((await hub.request('POST', '/v1/records', { key: 'not-a-key', body: { source: 'audit', sourceId: '1', kind: 'contact' } })).statusCode).toBe(401);
    await hub.testDb.db.query('ALTER TABLE audit_log_gone RENAME TO audit_log');
  });
});
