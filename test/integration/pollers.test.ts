import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_URL } from '../support/env.js';
import { createTestDb, startTestHub, waitFor, type TestDb, type TestHub } from '../support/hub.js';
import { createPostgresDb } from '../../src/core/store/postgres.db.js';

// Third-party APIs are simulated with nock; Redis and PostgreSQL are real (TCP, which nock leaves alone).

const mapping = {
  name: 'shop-customers',
  version: 1,
  records: [{ kind: 'contact', source: { const: 'shop' }, sourceId: 'id', occurredAt: 'updated_at', identifiers: { emails: ['email'] }, traits: { fullName: 'name' } }],
};

type Item = { id: number; email: string; name: string; updated_at: string };
const item = (n: number): Item => ({ id: n, email: `c${n}@example.com`, name: `Customer ${n}`, updated_at: `2026-01-10T10:${String(n).padStart(2, '0')}:00Z` });
const items = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => item(from + i));

/** A generic REST poller on `base`: pages of `size` by page number, incremental on updated_at. */
function restPoller(id: string, base: string, settings: Record<string, unknown> = {}) {
  return {
    id,
    type: 'rest-poller',
    // Only the poll the scheduler starts at once, and the ones a test asks for, run.
    pollEveryMs: 3_600_000,
    mapping,
    settings: {
      url: `${base}/v1/customers`,
      auth: { type: 'bearer', token: 'secret-token' },
      itemsPath: 'data',
      pagination: { style: 'page', size: 3 },
      incremental: { cursorField: 'updated_at', cursorParam: 'updated_since' },
      ...settings,
    },
  };
}

/** Answers like a real API: `updated_since` (inclusive), `page`, `per_page`, in order of updated_at. */
function pageOf(data: Item[], uri: string, base: string) {
  const q = new URL(uri, base).searchParams;
  const since = q.get('updated_since');
  const rows = data.filter((d) => !since || d.updated_at >= since).sort((a, b) => a.updated_at.localeCompare(b.updated_at));
  const page = Number(q.get('page') ?? 1);
  const size = Number(q.get('per_page') ?? 100);
  return { page, body: { data: rows.slice((page - 1) * size, page * size) } };
}

async function status(hub: TestHub, id: string) {
  return (await hub.request('GET', `/v1/connectors/${id}`)).json() as { status: string; lastError: string | null; lastRunAt: string | null; breaker: string; stats: { received: number; processed: number; failed: number } };
}

async function checkpointOf(hub: TestHub, id: string): Promise<unknown> {
  const rows = (await hub.testDb.db.query<{ checkpoint: unknown }>('SELECT checkpoint FROM connector_state WHERE connector_id = $1', [id])).rows;
  return rows[0]?.checkpoint ?? null;
}

/** Waits until no poll job is waiting or running, and at least `finished` have completed or failed. */
async function pollsSettled(hub: TestHub, finished = 1, timeoutMs = 20_000) {
  await waitFor(async () => {
    const c = await hub.connectors.queues[1]!.getJobCounts('waiting', 'active', 'prioritized', 'completed', 'failed');
    return (c['waiting'] ?? 0) + (c['active'] ?? 0) + (c['prioritized'] ?? 0) === 0 && (c['completed'] ?? 0) + (c['failed'] ?? 0) >= finished;
  }, timeoutMs);
}

async function runNow(hub: TestHub, id: string) {
  expect((await hub.request('POST', `/v1/connectors/${id}/run`)).statusCode).toBe(202);
  // runNow's job id carries the millisecond: two in the same one would be one job.
  await new Promise((r) => setTimeout(r, 5));
}

/** A second connection pool on the same schema: a hub closes the database it was given. */
function reopen(testDb: TestDb): TestDb {
  return { ...testDb, db: createPostgresDb({ connectionString: DATABASE_URL, schema: testDb.schema! }) };
}

const refused = () => Object.assign(new Error('connect ECONNREFUSED 203.0.113.7:443'), { code: 'ECONNREFUSED' });

beforeAll(() => {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
});
afterAll(() => {
  nock.cleanAll();
  nock.enableNetConnect();
});

describe('a poller restarted mid-poll', () => {
  it('pages through several pages, saving the checkpoint after each, and resumes from it after a restart with nothing missed or doubled', async () => {
    const base = 'https://restart.example.com';
    const data = items(1, 10);
    const asked: number[] = [];
    let broken = true;
    nock(base)
      .persist()
      .get('/v1/customers')
      .query(true)
      .reply((uri) => {
        const { page, body } = pageOf(data, uri, base);
        asked.push(page);
        return broken && page === 3 ? [500, { message: 'database is locked' }] : [200, body];
      });
    const testDb = await createTestDb('postgres');
    const prefix = `test-${randomUUID()}`;
    const config = { connectors: [restPoller('shop', base, { retries: 0 })] };
    let hub: TestHub | undefined;
    try {
      // The first hub reads pages 1 and 2, then page 3 fails: 6 records are queued and the checkpoint points at page 3.
      hub = await startTestHub({ store: 'postgres', testDb, prefix, config });
      const first = hub;
      await waitFor(async () => (await status(first, 'shop')).lastError !== null);
      expect((await status(first, 'shop')).lastError).toContain('answered 500: database is locked');
      expect(await checkpointOf(first, 'shop')).toEqual({ v: 1, since: null, sinceIds: [], pass: { page: 3, max: '2026-01-10T10:06:00Z', maxIds: ['6'] } });
      expect((await status(first, 'shop')).stats.processed).toBe(6);
      await first.drained();
      await first.close();
      hub = undefined;

      // Restart: a new hub on the same database and Redis prefix, the API healthy again and with two more customers.
      broken = false;
      data.push(...items(11, 12));
      hub = await startTestHub({ store: 'postgres', testDb: reopen(testDb), prefix, config });
      const second = hub;
      await waitFor(async () => (await status(second, 'shop')).stats.processed >= 12);
      await pollsSettled(second);
      await second.drained();
      expect(asked).toEqual([1, 2, 3, 3, 4, 5]);
      expect(await checkpointOf(second, 'shop')).toEqual({ v: 1, since: '2026-01-10T10:12:00Z', sinceIds: ['12'], pass: null });

      // Another poll finds nothing new.
      await runNow(second, 'shop');
      await pollsSettled(second, 2);
      const after = await status(second, 'shop');
      expect(after).toMatchObject({ status: 'ok', stats: { processed: 12, failed: 0 } });
      expect((await second.store.counts()).records).toBe(12);
      for (const n of [1, 6, 7, 12]) expect((await second.request('GET', `/v1/records/shop/${n}`)).json()).toMatchObject({ status: 'processed' });
    } finally {
      await hub?.close();
      await testDb.drop();
    }
  });
});

describe('two worker processes on one connector', () => {
  it('never poll it at the same time and never queue a record twice', async () => {
    const base = 'https://busy.example.com';
    const data = items(1, 6);
    let inFlight = 0;
    let maxInFlight = 0;
    nock(base)
      .persist()
      .get('/v1/customers')
      .query(true)
      .reply(async (uri) => {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, 150));
        inFlight -= 1;
        return [200, pageOf(data, uri, base).body];
      });
    const testDb = await createTestDb('postgres');
    const prefix = `test-${randomUUID()}`;
    const config = { connectors: [restPoller('busy', base, { pagination: { style: 'page', size: 2 } })] };
    const api = await startTestHub({ store: 'postgres', testDb, prefix, config });
    const worker = await startTestHub({ store: 'postgres', role: 'worker', testDb: reopen(testDb), prefix, config });
    try {
      for (let i = 0; i < 6; i += 1) await runNow(api, 'busy');
      await pollsSettled(api, 7);
      await api.drained();
      expect(maxInFlight).toBe(1);
      expect((await status(api, 'busy')).stats.processed).toBe(6);
      expect((await api.store.counts()).records).toBe(6);
      // Both workers took jobs: the ones that found the connector being polled stood down.
      const done = await api.connectors.queues[1]!.getJobs(['completed']);
      expect(done.some((j) => (j.returnvalue as { skipped?: string } | null)?.skipped === 'another worker is polling this connector')).toBe(true);
    } finally {
      await worker.close();
      await api.close();
      await testDb.drop();
    }
  });
});

describe('pollers in one hub: failures, words, and the built-in ERP connectors', () => {
  let hub: TestHub;
  const at429: number[] = [];
  const odooBase = 'https://acme.odoo.example.com';
  const odooKey = '6578616d706c65206a736f6e20617069206b6579';
  const onecOrigin = 'http://1c.example.local';
  const counterparty = JSON.parse(readFileSync(new URL('../../../shared/fixtures/onec_catalog_kontragenty.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  const sale = { Ref_Key: 'a0a1a2a3-0000-11e6-8343-40167e2531c3', DataVersion: 'AAAAAAAAB9Q=', Number: '0000-000123', Date: '2026-01-10T10:05:00', Posted: true, DeletionMark: false, Контрагент_Key: counterparty['Ref_Key'], СуммаДокумента: 15000 };

  beforeAll(async () => {
    // What each connector's first poll (the scheduler starts one at once) will meet.
    nock('https://flaky.example.com').get('/v1/customers').query(true).reply(503, 'Service Unavailable').get('/v1/customers').query(true).reply(200, { data: items(1, 2) });
    nock('https://limited.example.com')
      .get('/v1/customers')
      .query(true)
      .reply(() => {
        at429.push(Date.now());
        return [429, { message: 'slow down' }, { 'Retry-After': '1' }];
      })
      .get('/v1/customers')
      .query(true)
      .reply(() => {
        at429.push(Date.now());
        return [200, { data: items(1, 1) }];
      });
    nock('https://slow.example.com').get('/v1/customers').query(true).times(2).delay(1500).reply(200, { data: items(1, 1) });
    nock('https://garbled.example.com').get('/v1/customers').query(true).reply(200, { data: items(1, 2) });
    nock('https://down.example.com').persist().get('/v1/customers').query(true).reply(503, 'down for maintenance');
    nock('https://ok.example.com').persist().get('/v1/customers').query(true).reply(200, { data: items(1, 2) });
    nock('https://locked.example.com').persist().get('/v1/customers').query(true).reply(401, { error: 'invalid_token' });
    nock('https://gone.example.com').get('/v1/customers').query(true).times(2).replyWithError(refused());

    const fixture = readFileSync(new URL('../../../shared/fixtures/odoo_json2_search_read.http', import.meta.url), 'utf8');
    const responsePart = fixture.split('# --- response ---')[1] ?? '';
    const [deco] = JSON.parse(responsePart.slice(responsePart.indexOf('['), responsePart.indexOf(']') + 1)) as Record<string, unknown>[];
    const partner = { ...deco, email: 'info@deco-addict.example.com', phone: false, write_date: '2026-01-10 09:00:00' };
    const move = { id: 17, name: 'INV/2026/00017', move_type: 'out_invoice', state: 'posted', partner_id: [25, 'Deco Addict'], invoice_date: '2026-01-09', amount_total: 1250.5, currency_id: [1, 'EUR'], write_date: '2026-01-10 09:05:00' };
    nock(odooBase, { reqheaders: { authorization: `bearer ${odooKey}`, 'x-odoo-database': 'acme' } })
      .post('/json/2/res.partner/search_read')
      .reply(200, [partner])
      .post('/json/2/account.move/search_read')
      .reply(200, [move]);

    const catalogPath = `/trade/odata/standard.odata/${encodeURIComponent('Catalog_Контрагенты')}`;
    const salesPath = `/trade/odata/standard.odata/${encodeURIComponent('Document_РеализацияТоваровУслуг')}`;
    nock(onecOrigin)
      .get((uri) => uri.startsWith(`${catalogPath}?`))
      .reply(200, { 'odata.metadata': 'x', value: [counterparty] })
      .get((uri) => uri.startsWith(`${salesPath}?`))
      .reply(200, { 'odata.metadata': 'x', value: [sale] });
    nock('http://1c-down.example.local').get(/.*/).times(2).replyWithError(refused());

    const onec = { url: `${onecOrigin}/trade`, username: 'hub', password: 'secret' };
    hub = await startTestHub({
      store: 'postgres',
      config: {
        connectors: [
          restPoller('flaky', 'https://flaky.example.com'),
          restPoller('limited', 'https://limited.example.com'),
          restPoller('slow', 'https://slow.example.com', { timeoutMs: 200, retries: 1 }),
          restPoller('garbled', 'https://garbled.example.com'),
          restPoller('down', 'https://down.example.com', { retries: 0 }),
          restPoller('ok', 'https://ok.example.com'),
          restPoller('locked', 'https://locked.example.com'),
          restPoller('gone', 'https://gone.example.com', { retries: 0 }),
          { id: 'odoo', type: 'odoo', pollEveryMs: 3_600_000, settings: { url: odooBase, apiKey: odooKey, database: 'acme' } },
          { id: 'onec', type: '1c-odata', pollEveryMs: 3_600_000, settings: onec },
          { id: 'onec-down', type: '1c-odata', pollEveryMs: 3_600_000, settings: { ...onec, url: 'http://1c-down.example.local/trade', retries: 0 } },
        ],
      },
    });
  });
  afterAll(async () => hub?.close());

  it('retries a 5xx and succeeds', async () => {
    // The counts move with each page; the run is noted once the poll is over.
    await waitFor(async () => (await status(hub, 'flaky')).lastRunAt !== null);
    expect(await status(hub, 'flaky')).toMatchObject({ status: 'ok', lastError: null, stats: { processed: 2 } });
  });

  it('waits as long as a 429 Retry-After asks before trying again', async () => {
    await waitFor(async () => (await status(hub, 'limited')).stats.processed === 1);
    expect(at429).toHaveLength(2);
    expect(at429[1]! - at429[0]!).toBeGreaterThanOrEqual(900);
  });

  it('gives up on an API that does not answer in time, says so, and leaves the checkpoint; a later answer in time is taken', async () => {
    await waitFor(async () => (await status(hub, 'slow')).lastError !== null);
    expect((await status(hub, 'slow')).lastError).toMatch(/^the API at https:\/\/slow\.example\.com\/v1\/customers did not answer in time \(.*ECONNABORTED.* after 2 attempts\)$/);
    expect(await checkpointOf(hub, 'slow')).toBeNull();

    nock('https://slow.example.com').get('/v1/customers').query(true).delay(1500).reply(200, { data: [] }).get('/v1/customers').query(true).reply(200, { data: items(1, 1) });
    await runNow(hub, 'slow');
    await waitFor(async () => (await status(hub, 'slow')).stats.processed === 1);
    expect(await checkpointOf(hub, 'slow')).toMatchObject({ since: item(1).updated_at });
  });

  it('fails a poll on a malformed answer with a clear error, and the checkpoint does not move', async () => {
    await waitFor(async () => (await status(hub, 'garbled')).stats.processed === 2);
    const saved = await checkpointOf(hub, 'garbled');

    nock('https://garbled.example.com').get('/v1/customers').query(true).reply(200, '<html><h1>502 Bad Gateway</h1></html>', { 'Content-Type': 'text/html' });
    await runNow(hub, 'garbled');
    await waitFor(async () => (await status(hub, 'garbled')).lastError !== null);
    expect(await status(hub, 'garbled')).toMatchObject({ status: 'error', lastError: 'the API at https://garbled.example.com/v1/customers answered with something that is not JSON: got text "<html><h1>502 Bad Gateway</h1></html>"' });

    nock('https://garbled.example.com').get('/v1/customers').query(true).reply(200, { data: [{ id: 3, email: 'c3@example.com' }] });
    await runNow(hub, 'garbled');
    await waitFor(async () => (await status(hub, 'garbled')).lastError?.includes('no string value at updated_at') === true);
    expect(await checkpointOf(hub, 'garbled')).toEqual(saved);
    expect((await status(hub, 'garbled')).stats.processed).toBe(2);
  });

  it('shows an open circuit breaker in GET /v1/connectors once the API keeps failing', async () => {
    await waitFor(async () => (await status(hub, 'down')).lastRunAt !== null);
    for (let i = 0; i < 20 && (await status(hub, 'down')).breaker !== 'open'; i += 1) {
      const before = (await status(hub, 'down')).lastRunAt;
      await runNow(hub, 'down');
      await waitFor(async () => (await status(hub, 'down')).lastRunAt !== before);
    }
    const list = (await hub.request('GET', '/v1/connectors')).json() as { data: { id: string; breaker: string; status: string }[] };
    expect(list.data.find((c) => c.id === 'down')).toMatchObject({ breaker: 'open', status: 'error' });
    expect(list.data.find((c) => c.id === 'ok')).toMatchObject({ breaker: 'closed' });
    await runNow(hub, 'down');
    await waitFor(async () => (await status(hub, 'down')).lastError?.includes('circuit breaker is open') === true);
  });

  it('answers POST /v1/connectors/{id}/test in words', async () => {
    await waitFor(async () => (await status(hub, 'gone')).lastRunAt !== null && (await status(hub, 'ok')).lastRunAt !== null);
    expect((await hub.request('POST', '/v1/connectors/ok/test')).json()).toEqual({ ok: true, message: 'the API at https://ok.example.com/v1/customers accepted the credentials and answered with 2 items on the first page' });
    expect((await hub.request('POST', '/v1/connectors/locked/test')).json()).toEqual({ ok: false, message: 'the API at https://locked.example.com/v1/customers rejected the credentials (401): invalid_token' });
    const gone = (await hub.request('POST', '/v1/connectors/gone/test')).json() as { ok: boolean; message: string };
    expect(gone).toEqual({ ok: false, message: 'cannot reach the API at https://gone.example.com/v1/customers (gone/api did not answer (ECONNREFUSED) after 1 attempts)' });
  });

  it('Odoo: a partner and its invoice land on one profile, the cursor is saved per model, and a refused key is said to be', async () => {
    await waitFor(async () => (await status(hub, 'odoo')).stats.processed === 2);
    await hub.drained();
    const contact = (await hub.request('GET', '/v1/records/odoo/25')).json() as { status: string; profileId: string };
    expect(contact.status).toBe('processed');
    expect((await hub.request('GET', '/v1/records/odoo/account.move-17')).json()).toMatchObject({ status: 'processed', profileId: contact.profileId });
    const timeline = (await hub.request('GET', `/v1/profiles/${contact.profileId}/timeline`)).json() as { data: unknown[] };
    expect(timeline.data).toEqual([expect.objectContaining({ channel: 'invoice', amount: 1250.5, currency: 'EUR', subject: 'INV/2026/00017' })]);
    expect(await checkpointOf(hub, 'odoo')).toEqual({
      v: 1,
      model: 'res.partner',
      cursors: { 'res.partner': { writeDate: '2026-01-10 09:00:00', id: 25 }, 'account.move': { writeDate: '2026-01-10 09:05:00', id: 17 } },
    });
    nock(odooBase).post('/json/2/res.partner/search_read').reply(401, { name: 'werkzeug.exceptions.Unauthorized', message: 'Invalid apikey', arguments: ['Invalid apikey', 401], context: {} });
    expect((await hub.request('POST', '/v1/connectors/odoo/test')).json()).toEqual({ ok: false, message: `Odoo at ${odooBase} rejected the credentials (401): Invalid apikey` });
  });

  it('1C: the real counterparty and a sales document land on one profile, and a base that is down is said to be', async () => {
    await waitFor(async () => (await status(hub, 'onec')).stats.processed === 2);
    await hub.drained();
    const contact = (await hub.request('GET', `/v1/records/1c/${String(counterparty['Ref_Key'])}`)).json() as { status: string; profileId: string };
    expect(contact.status).toBe('processed');
    const timeline = (await hub.request('GET', `/v1/profiles/${contact.profileId}/timeline`)).json() as { data: unknown[] };
    expect(timeline.data).toEqual([expect.objectContaining({ channel: 'order', amount: 15000, currency: 'RUB', occurredAt: '2026-01-10T07:05:00.000Z' })]);
    expect(await checkpointOf(hub, 'onec')).toEqual({
      v: 1,
      phase: 'catalog',
      skip: 0,
      versions: { [String(counterparty['Ref_Key'])]: 'AAAAAAAETag=' },
      documents: { Document_РеализацияТоваровУслуг: { date: '2026-01-10T10:05:00', refs: [sale.Ref_Key] } },
    });
    await waitFor(async () => (await status(hub, 'onec-down')).lastError !== null);
    expect((await hub.request('POST', '/v1/connectors/onec-down/test')).json()).toEqual({
      ok: false,
      message: 'cannot reach 1C at http://1c-down.example.local/trade (onec-down/odata did not answer (ECONNREFUSED) after 1 attempts)',
    });
  });
});
