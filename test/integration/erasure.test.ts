import { createHmac, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL, STORES } from '../support/env.js';
import { SCOPED_KEYS, createTestDb, dropRedisPrefix, startTestHub, waitFor, type TestHub } from '../support/hub.js';
import { createHub } from '../../src/core/hub.js';
import { createLogger } from '../../src/core/logger.js';
import { parseConfig } from '../../src/core/config/load-config.js';

/** Traces of the person, lowercased: raw and normalized email, phone as written and in E.164, names, text. */
const TRACES = ['ivan.petrov@example.com', '79161234567', '123-45-67', 'петров', 'ромашка', 'тайное письмо', '000777'];
const BYSTANDER = 'maria.sidorova@example.org';

const person = {
  contact: { source: 'crm', sourceId: 'C-1', kind: 'contact', identifiers: { emails: ['Ivan.Petrov@Example.com'] }, traits: { firstName: 'Иван', lastName: 'Петров' } },
  erp: { source: 'erp', sourceId: 'E-7', kind: 'contact', identifiers: { phones: ['8 (916) 123-45-67'], ids: { '1c': '000777' } }, traits: { company: 'ООО Ромашка' } },
  mail: {
    source: 'mail',
    sourceId: 'M-1',
    kind: 'interaction',
    occurredAt: '2026-11-20T10:00:00Z',
    identifiers: { emails: ['ivan.petrov@example.com'], phones: ['+7 916 123 45 67'] },
    interaction: { channel: 'email', direction: 'inbound', subject: 'Счёт', body: 'Тайное письмо' },
  },
};

/** Every value of every Redis key under the hub's prefix, as one lowercased text. */
async function redisText(prefix: string): Promise<string> {
  const redis = new Redis(REDIS_URL);
  try {
    const parts: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const type = await redis.type(key);
        parts.push(key);
        if (type === 'string') parts.push((await redis.get(key)) ?? '');
        else if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(key)));
        else if (type === 'list') parts.push(JSON.stringify(await redis.lrange(key, 0, -1)));
        else if (type === 'set') parts.push(JSON.stringify(await redis.smembers(key)));
        else if (type === 'zset') parts.push(JSON.stringify(await redis.zrange(key, '0', '-1')));
        else if (type === 'stream') parts.push(JSON.stringify(await redis.xrange(key, '-', '+')));
      }
    } while (cursor !== '0');
    // JSON escapes are undone so that a value inside a JSON string is found as written.
    return parts.join('\n').replace(/\\u([0-9a-f]{4})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))).toLowerCase();
  } finally {
    redis.disconnect();
  }
}

async function ingest(hub: TestHub, ...records: object[]): Promise<void> {
  const res = await hub.request('POST', '/v1/records', { key: SCOPED_KEYS.ingest, body: { records } });
  expect(res.statusCode, res.body).toBe(202);
  await hub.drained();
}

async function lookup(hub: TestHub, query: string): Promise<{ id: string }[]> {
  const res = await hub.request('GET', `/v1/profiles?${query}`, { key: SCOPED_KEYS.read });
  expect(res.statusCode, res.body).toBe(200);
  return (res.json() as { data: { id: string }[] }).data;
}

/** Rows of a table, each as its whole text, lowercased. */
async function tableText(hub: TestHub, table: string, where = 'true'): Promise<string[]> {
  return (await hub.testDb.db.query<{ t: string }>(`SELECT lower(x::text) AS t FROM ${table} x WHERE ${where}`)).rows.map((r) => r.t);
}

describe.each(STORES)('erasure on %s', (store) => {
  let hub: TestHub;
  let survivorId: string;
  let mergedId: string;
  beforeAll(async () => {
    // The outbox relay would move profile.deleted on before the test reads it: relay once an hour.
    hub = await startTestHub({ store, config: { events: { relayEveryMs: 3_600_000 } } });
    await ingest(hub, person.contact, { source: 'crm', sourceId: 'C-2', kind: 'contact', identifiers: { emails: [BYSTANDER] }, traits: { lastName: 'Сидорова' } });
    await ingest(hub, person.erp);
    const [erpProfile] = await lookup(hub, 'externalId=1c:000777');
    mergedId = erpProfile!.id;
    // The email and the phone on one record join the two profiles: one is merged into the other.
    await ingest(hub, person.mail);
    const found = await lookup(hub, `email=${encodeURIComponent('ivan.petrov@example.com')}`);
    expect(found).toHaveLength(1);
    survivorId = found[0]!.id;
    if (survivorId === mergedId) {
      const [crmProfile] = (await hub.testDb.db.query<{ id: string }>('SELECT id FROM profiles WHERE merged_into IS NOT NULL')).rows;
      mergedId = crmProfile!.id;
    }
    expect(mergedId).not.toBe(survivorId);
  });
  afterAll(async () => hub?.close());

  it('exports everything held about the person as one document', async () => {
    const res = await hub.request('GET', `/v1/profiles/${survivorId}/export`, { key: SCOPED_KEYS.read });
    expect(res.statusCode, res.body).toBe(200);
    const doc = res.json() as {
      profile: { id: string; traits: Record<string, unknown>; identifiers: { type: string; value: string }[] };
      mergedIds: string[];
      records: { source: string; sourceId: string; identifiers: Record<string, unknown>; traits: Record<string, unknown>; interaction: Record<string, unknown> | null; receivedAt: string }[];
      merges: { survivorId: string; mergedId: string }[];
      audit: unknown[];
    };
    expect(doc.profile).toMatchObject({ id: survivorId, traits: { firstName: 'Иван', lastName: 'Петров', company: 'ООО Ромашка' } });
    expect(doc.profile.identifiers).toEqual(expect.arrayContaining([{ type: 'email', value: 'ivan.petrov@example.com', sources: ['crm', 'mail'] }]));
    expect(doc.records.map((r) => `${r.source}/${r.sourceId}`).sort()).toEqual(['crm/C-1', 'erp/E-7', 'mail/M-1']);
    const erp = doc.records.find((r) => r.source === 'erp')!;
    // As received, not normalized.
    expect(erp.identifiers).toEqual(person.erp.identifiers);
    expect(doc.records.find((r) => r.source === 'mail')!.interaction).toMatchObject({ subject: 'Счёт', body: 'Тайное письмо' });
    expect(doc.mergedIds).toEqual([mergedId]);
    expect(doc.merges).toEqual([expect.objectContaining({ survivorId, mergedId })]);

    // An export is itself recorded, and the next export shows it.
    const again = (await hub.request('GET', `/v1/profiles/${survivorId}/export`)).json() as { audit: { action: string; actor: string }[] };
    expect(again.audit).toEqual(expect.arrayContaining([expect.objectContaining({ action: 'GET /v1/profiles/:id/export', actor: 'key-read' })]));

    const moved = await hub.request('GET', `/v1/profiles/${mergedId}/export`);
    expect(moved.statusCode).toBe(308);
    expect(moved.headers['location']).toBe(`/v1/profiles/${survivorId}/export`);
  });

  it('answers a merged-away id with 308 to the survivor and erases nothing through the redirect', async () => {
    const res = await hub.request('DELETE', `/v1/profiles/${mergedId}`, { key: SCOPED_KEYS.write });
    expect(res.statusCode).toBe(308);
    expect(res.headers['location']).toBe(`/v1/profiles/${survivorId}`);
    expect(res.json()).toEqual({ mergedInto: survivorId });
    expect((await hub.request('GET', `/v1/profiles/${survivorId}`)).statusCode).toBe(200);
    expect((await hub.request('DELETE', '/v1/profiles/00000000-0000-4000-8000-00000000dead', { key: SCOPED_KEYS.write })).statusCode).toBe(404);
    expect((await hub.request('DELETE', '/v1/profiles/not-a-uuid', { key: SCOPED_KEYS.write })).statusCode).toBe(404);
  });

  it('erases the person from the store and from Redis, keeping only salted hashes', async () => {
    const before = await redisText(hub.prefix);
    expect(before).toContain('ivan.petrov@example.com');
    expect(before).toContain(BYSTANDER);

    const res = await hub.request('DELETE', `/v1/profiles/${survivorId}`, { key: SCOPED_KEYS.write });
    expect(res.statusCode, res.body).toBe(204);
    expect(res.body).toBe('');

    for (const id of [survivorId, mergedId]) expect((await hub.request('GET', `/v1/profiles/${id}`)).statusCode).toBe(404);
    expect((await hub.request('DELETE', `/v1/profiles/${survivorId}`, { key: SCOPED_KEYS.write })).statusCode).toBe(404);
    expect(await lookup(hub, `email=${encodeURIComponent('Ivan.Petrov@Example.com')}`)).toEqual([]);
    expect(await lookup(hub, `phone=${encodeURIComponent('+79161234567')}`)).toEqual([]);
    expect(await lookup(hub, 'externalId=1c:000777')).toEqual([]);
    expect((await hub.request('GET', '/v1/records/mail/M-1')).statusCode).toBe(404);

    for (const table of ['records', 'record_identifiers', 'profiles', 'profile_merges', 'events', 'audit_log', 'erased_identifiers', 'held_records']) {
      const rows = await tableText(hub, table);
      for (const trace of TRACES) expect(rows.filter((r) => r.includes(trace)), `${table} holds "${trace}"`).toEqual([]);
    }
    expect(await tableText(hub, 'profiles', `id IN ('${survivorId}', '${mergedId}')`)).toEqual([]);
    // Blocking keys hold sound codes of the names and the records' ids: none outlives its record.
    const orphanKeys = await hub.testDb.db.query('SELECT m.* FROM match_keys m LEFT JOIN records r ON r.source = m.source AND r.source_id = m.source_id WHERE r.source IS NULL');
    expect(orphanKeys.rows).toEqual([]);
    expect((await hub.testDb.db.query('SELECT 1 FROM match_keys')).rows.length).toBeGreaterThan(0);
    expect((await tableText(hub, 'records')).some((r) => r.includes(BYSTANDER))).toBe(true);
    const erased = (await hub.testDb.db.query<{ hash: string; type: string }>('SELECT hash, type FROM erased_identifiers ORDER BY type')).rows;
    // email, phone, and the external ids crm:C-1, erp:E-7, 1c:000777
    expect(erased.map((e) => e.type)).toEqual(['email', 'externalId', 'externalId', 'externalId', 'phone']);
    expect(erased.every((e) => /^[0-9a-f]{64}$/.test(e.hash))).toBe(true);
    const deleted = (await hub.testDb.db.query<{ data: { profileId: string; erasedAt: string } }>(`SELECT data FROM events WHERE type = 'profile.deleted'`)).rows;
    expect(deleted).toEqual([{ data: { profileId: survivorId, erasedAt: expect.any(String) } }]);

    const after = await redisText(hub.prefix);
    for (const trace of TRACES) expect(after.includes(trace), `Redis still holds "${trace}"`).toBe(false);
    expect(after).toContain(BYSTANDER);

    const audit = (await hub.request('GET', `/v1/audit?action=${encodeURIComponent('DELETE /v1/profiles/:id')}`)).json() as { data: { actor: string; status: number; profileIds: string[] }[] };
    expect(audit.data[1]).toMatchObject({ actor: 'key-write', status: 204 });
    expect(audit.data[1]!.profileIds.sort()).toEqual([survivorId, mergedId].sort());
  });

  it('holds a later record carrying an erased identifier, lists it, and processes it on release', async () => {
    const comeback = { source: 'web', sourceId: 'F-9', kind: 'contact', identifiers: { emails: ['IVAN.PETROV@example.com'] }, traits: { firstName: 'Иван' } };
    await ingest(hub, comeback, { source: 'web', sourceId: 'F-10', kind: 'contact', identifiers: { emails: ['someone.else@example.net'] } });
    expect(await lookup(hub, `email=${encodeURIComponent('ivan.petrov@example.com')}`)).toEqual([]);
    expect(await lookup(hub, `email=${encodeURIComponent('someone.else@example.net')}`)).toHaveLength(1);
    // The held record left the job's data too.
    expect(await redisText(hub.prefix)).not.toContain('ivan.petrov@example.com');

    const list = await hub.request('GET', '/v1/erasures/held');
    expect(list.statusCode, list.body).toBe(200);
    const held = list.json() as { data: { id: string; source: string; sourceId: string; matched: string[]; record: Record<string, unknown> }[]; dropped: number };
    expect(held.data).toHaveLength(1);
    expect(held.data[0]).toMatchObject({ source: 'web', sourceId: 'F-9', matched: ['email'], record: comeback });
    expect(held.dropped).toBe(0);
    expect((await hub.request('GET', '/v1/erasures/held', { key: SCOPED_KEYS.write })).statusCode).toBe(403);

    const release = await hub.request('POST', `/v1/erasures/held/${held.data[0]!.id}/release`);
    expect(release.statusCode, release.body).toBe(202);
    await hub.processed('web', 'F-9');
    expect(await lookup(hub, `email=${encodeURIComponent('ivan.petrov@example.com')}`)).toHaveLength(1);
    expect((await hub.request('GET', '/v1/erasures/held')).json()).toMatchObject({ data: [] });
    expect((await hub.request('POST', `/v1/erasures/held/${held.data[0]!.id}/release`)).statusCode).toBe(404);
    // The released email is no longer treated as erased; the phone still is.
    await ingest(hub, { source: 'web', sourceId: 'F-11', kind: 'contact', identifiers: { emails: ['ivan.petrov@example.com'] } });
    await hub.processed('web', 'F-11');

    await ingest(hub, { source: 'pbx', sourceId: 'call-1', kind: 'interaction', identifiers: { phones: ['89161234567'] }, interaction: { channel: 'call' } });
    const phoneHeld = (await hub.request('GET', '/v1/erasures/held')).json() as { data: { id: string; matched: string[] }[] };
    expect(phoneHeld.data).toEqual([expect.objectContaining({ matched: ['phone'] })]);
    expect((await hub.request('DELETE', `/v1/erasures/held/${phoneHeld.data[0]!.id}`)).statusCode).toBe(204);
    expect((await hub.request('DELETE', `/v1/erasures/held/${phoneHeld.data[0]!.id}`)).statusCode).toBe(404);
    expect(await lookup(hub, `phone=${encodeURIComponent('+79161234567')}`)).toEqual([]);
  });
});

describe('erasure with onReturn: drop, of a person who came through a webhook', () => {
  const secret = 'erasure-webhook-secret-0123';
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub({
      store: 'pglite',
      config: {
        erasure: { onReturn: 'drop' },
        connectors: [{ id: 'crm-push', type: 'webhook', settings: { signature: { scheme: 'hmac-sha256', secret, header: 'x-signature', prefix: 'sha256=' }, eventIdPath: 'sourceId' } }],
      },
    });
  });
  afterAll(async () => hub?.close());

  it('removes the source payloads kept by the connector queue, then drops and counts a returning record', async () => {
    // A neighbour whose payload holds the person's values only as parts of longer ones stays.
    const neighbour = { source: 'crm', sourceId: 'C-10', kind: 'contact', identifiers: { emails: ['xivan.petrov@example.com'], ids: { '1c': '0007770' } } };
    for (const record of [person.contact, neighbour]) {
      const body = JSON.stringify(record);
      const pushed = await hub.app!.inject({
        method: 'POST',
        url: '/v1/webhooks/crm-push',
        headers: { 'content-type': 'application/json', 'x-signature': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}` },
        payload: body,
      });
      expect(pushed.statusCode, pushed.body).toBe(202);
    }
    await hub.settled();
    const [profile] = await lookup(hub, 'externalId=crm:C-1');
    expect(profile).toBeDefined();
    expect(await hub.connectors.queues[0]!.getCompletedCount()).toBe(2);
    expect(await redisText(hub.prefix)).toContain('"ivan.petrov@example.com');

    expect((await hub.request('DELETE', `/v1/profiles/${profile!.id}`, { key: SCOPED_KEYS.write })).statusCode).toBe(204);
    expect(await hub.connectors.queues[0]!.getCompletedCount()).toBe(1);
    expect(await lookup(hub, 'externalId=crm:C-10')).toHaveLength(1);
    const after = await redisText(hub.prefix);
    expect(after).toContain('xivan.petrov@example.com');
    for (const trace of ['"ivan.petrov@example.com', 'петров', '"000777"']) expect(after.includes(trace), `Redis still holds "${trace}"`).toBe(false);

    await ingest(hub, { source: 'web', sourceId: 'F-1', kind: 'contact', identifiers: { emails: ['ivan.petrov@example.com'] } });
    expect(await lookup(hub, `email=${encodeURIComponent('ivan.petrov@example.com')}`)).toEqual([]);
    expect((await hub.request('GET', '/v1/erasures/held')).json()).toMatchObject({ data: [], dropped: 1 });
    expect(await tableText(hub, 'held_records')).toEqual([]);
    expect(await redisText(hub.prefix)).not.toContain('"ivan.petrov@example.com');
  });
});

describe('erasure logs', () => {
  it('writes no erased value to the log, from the erasure through a held comeback', async () => {
    const lines: string[] = [];
    const destination = { write: (line: string) => void lines.push(line) };
    const prefix = `test-${randomUUID()}`;
    const testDb = await createTestDb('pglite');
    const hub = await createHub({
      role: 'all',
      config: parseConfig({ pipeline: { backoffMs: 50, attempts: 3 } }),
      db: testDb.db,
      redisUrl: REDIS_URL,
      prefix,
      bootstrapKey: 'log-test-key',
      log: createLogger({ level: 'debug', destination }),
    });
    const request = (method: 'GET' | 'POST' | 'DELETE', url: string, body?: object) =>
      hub.app!.inject({ method, url, headers: { authorization: 'Bearer log-test-key' }, ...(body ? { payload: body } : {}) });
    const drained = () => waitFor(async () => Object.values(await hub.ingest.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized')).every((n) => n === 0));
    try {
      expect((await request('POST', '/v1/records', { records: [person.contact, person.erp, person.mail] })).statusCode).toBe(202);
      await drained();
      const profileId = (await request('GET', '/v1/records/crm/C-1')).json<{ profileId: string }>().profileId;
      lines.length = 0;

      expect((await request('DELETE', `/v1/profiles/${profileId}`)).statusCode).toBe(204);
      expect((await request('POST', '/v1/records', { source: 'web', sourceId: 'F-1', kind: 'contact', identifiers: { emails: ['Ivan.Petrov@example.com'] } })).statusCode).toBe(202);
      await drained();
      expect((await request('GET', '/v1/erasures/held')).json<{ data: unknown[] }>().data).toHaveLength(1);

      const text = lines.join('').toLowerCase();
      expect(text).toContain('held for review');
      for (const trace of TRACES) expect(text.includes(trace), `the log holds "${trace}"`).toBe(false);
    } finally {
      await hub.close();
      await testDb.drop();
      await dropRedisPrefix(prefix);
    }
  });
});
