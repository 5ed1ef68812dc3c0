import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES } from '../support/env.js';
import { createTestDb, SCOPED_KEYS, startTestHub, type TestDb, type TestHub, defaultProfileStore } from '../support/hub.js';
import { migrate } from '../../src/core/store/migrate.js';
import type { ReceivedRecord } from '../../src/core/record.schema.js';

type Sample = { name: string; labels: Record<string, string>; value: number };

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/gy;

/** The Prometheus text format, strictly: every line a comment (# HELP / # TYPE) or `name{labels} value`. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      expect(line, 'comment line').toMatch(/^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* /);
      continue;
    }
    const m = LINE.exec(line);
    expect(m, `not a sample line: ${line}`).not.toBeNull();
    const [, name, rawLabels, rawValue] = m!;
    const labels: Record<string, string> = {};
    if (rawLabels) {
      LABEL.lastIndex = 0;
      let consumed = 0;
      for (let l = LABEL.exec(rawLabels); l; l = LABEL.exec(rawLabels)) {
        labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
        consumed = LABEL.lastIndex;
      }
      expect(consumed, `labels of ${line}`).toBe(rawLabels.length);
    }
    // Prometheus reads values with Go's ParseFloat: NaN and Inf in any case (prom-client writes "Nan").
    const value = /^[+-]?inf$/i.test(rawValue!) ? (rawValue!.startsWith('-') ? -Infinity : Infinity) : Number(rawValue);
    expect(Number.isNaN(value) && !/^nan$/i.test(rawValue!), `value of ${line}`).toBe(false);
    samples.push({ name: name!, labels, value });
  }
  return samples;
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

const SW_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

describe.each(STORES)('GET /metrics on %s', (store) => {
  let hub: TestHub;
  let other: TestHub;
  let testDb: TestDb;

  beforeAll(async () => {
    testDb = await createTestDb(store);
    await migrate(testDb.db);
    const real = defaultProfileStore(testDb.db);
    const workerStore = {
      resolveBatch: (records: ReceivedRecord[]) => (records.some((r) => r.source === 'bad') ? Promise.reject(new Error('cannot store a "bad" record')) : real.resolveBatch(records)),
    };
    hub = await startTestHub({
      store,
      testDb,
      workerStore,
      config: { pipeline: { attempts: 1 }, connectors: [{ id: 'records-in', type: 'webhook', settings: { signature: { scheme: 'standard-webhooks', secret: SW_SECRET } } }] },
    });
    // A second hub in the same process, with a key required: its registry is its own.
    other = await startTestHub({ store: 'pglite', config: { metrics: { requireKey: true } } });
  });
  afterAll(async () => {
    await Promise.all([hub?.close(), other?.close()]);
    await testDb?.drop();
  });

  async function scrape(h: TestHub = hub): Promise<Sample[]> {
    const res = await h.request('GET', '/metrics', { key: null });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    return parseExposition(res.body);
  }

  it('parses as Prometheus text and moves with the records that flow: received, processed, failed, latency, merges, queues', async () => {
    const before = await scrape();
    expect(value(before, 'crm_hub_records_received_total', { source: 'erp' })).toBeUndefined();
    expect(value(before, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(value(before, 'crm_hub_connector_breaker_state', { connector: 'records-in', state: 'closed' })).toBe(1);
    expect(value(before, 'crm_hub_connector_breaker_state', { connector: 'records-in', state: 'open' })).toBe(0);

    const erp = Array.from({ length: 15 }, (_, i) => ({ source: 'erp', sourceId: `C-${i}`, kind: 'contact', identifiers: { emails: [`p${i}@example.com`] }, traits: { firstName: 'Пётр' } }));
    const web = Array.from({ length: 10 }, (_, i) => ({ source: 'web', sourceId: `w-${i}`, kind: 'interaction', identifiers: { phones: [`+7916000${String(i).padStart(4, '0')}`] }, interaction: { channel: 'form' } }));
    for (const records of [erp, web, [{ source: 'bad', sourceId: 'x', kind: 'contact' }]]) {
      expect((await hub.request('POST', '/v1/records', { body: { records } })).statusCode).toBe(202);
    }
    await hub.drained();
    // One merge: a record that carries both an erp email and a web phone joins two profiles.
    const link = { source: 'mail', sourceId: 'm-1', kind: 'interaction', identifiers: { emails: ['p0@example.com'], phones: ['+79160000000'] }, interaction: { channel: 'email' } };
    expect((await hub.request('POST', '/v1/records', { body: link })).statusCode).toBe(202);
    await hub.drained();

    const after = await scrape();
    const expected = { erp: 15, web: 10, mail: 1 };
    for (const [source, n] of Object.entries(expected)) {
      expect(value(after, 'crm_hub_records_received_total', { source }), source).toBe(n);
      expect(value(after, 'crm_hub_records_processed_total', { source }), source).toBe(n);
      expect(value(after, 'crm_hub_pipeline_latency_seconds_count', { source }), source).toBe(n);
      expect(value(after, 'crm_hub_pipeline_latency_seconds_bucket', { source, le: '+Inf' }), source).toBe(n);
      expect(value(after, 'crm_hub_pipeline_latency_seconds_sum', { source }), source).toBeGreaterThan(0);
      expect(value(after, 'crm_hub_records_failed_total', { source }), source).toBeUndefined();
    }
    expect(value(after, 'crm_hub_records_received_total', { source: 'bad' })).toBe(1);
    expect(value(after, 'crm_hub_records_processed_total', { source: 'bad' })).toBeUndefined();
    expect(value(after, 'crm_hub_records_failed_total', { source: 'bad' })).toBe(1);
    expect(value(after, 'crm_hub_merges_total')).toBe(1);
    expect(value(after, 'crm_hub_queue_jobs', { queue: 'ingest', state: 'failed' })).toBe(1);
    expect(value(after, 'crm_hub_queue_jobs', { queue: 'ingest', state: 'waiting' })).toBe(0);
    expect(value(after, 'crm_hub_queue_jobs', { queue: 'connector-events', state: 'waiting' })).toBe(0);
    // Requests are counted by route pattern, not by URL.
    expect(value(after, 'crm_hub_http_request_duration_seconds_count', { method: 'POST', route: '/v1/records', status_code: '202' })).toBe(4);
    await hub.request('GET', '/v1/records/erp/C-1');
    await hub.request('GET', '/v1/records/erp/C-2');
    await hub.request('GET', '/nowhere/at/all');
    const reads = await scrape();
    expect(value(reads, 'crm_hub_http_request_duration_seconds_count', { method: 'GET', route: '/v1/records/:source/:sourceId', status_code: '200' })).toBe(2);
    expect(value(reads, 'crm_hub_http_request_duration_seconds_count', { method: 'GET', route: 'unmatched', status_code: '404' })).toBe(1);
  });

  it('a gauge added later is collected at each scrape', async () => {
    let open = 3;
    hub.metrics.addGauge('crm_hub_test_pairs', 'test gauge', ['status'], () => [{ labels: { status: 'open' }, value: open }]);
    expect(value(await scrape(), 'crm_hub_test_pairs', { status: 'open' })).toBe(3);
    open = 1;
    expect(value(await scrape(), 'crm_hub_test_pairs', { status: 'open' })).toBe(1);
  });

  it('with metrics.requireKey asks for any valid key; each hub counts only its own records', async () => {
    expect((await other.request('GET', '/metrics', { key: null })).statusCode).toBe(401);
    expect((await other.request('GET', '/metrics', { key: 'wrong' })).statusCode).toBe(401);
    const res = await other.request('GET', '/metrics', { key: SCOPED_KEYS.ingest });
    expect(res.statusCode).toBe(200);
    const samples = parseExposition(res.body);
    expect(samples.filter((s) => s.name === 'crm_hub_records_received_total')).toEqual([]);
    expect(value(samples, 'crm_hub_merges_total')).toBe(0);
  });
});

describe('GET /metrics on a --role worker hub', () => {
  it('is served by its operations server, which follows metrics.requireKey and serves nothing of the API', async () => {
    const worker = await startTestHub({ store: 'postgres', role: 'worker', config: { metrics: { requireKey: true } } });
    try {
      expect(worker.app).toBeNull();
      const get = (url: string, key?: string) => worker.operations!.inject({ method: 'GET', url, headers: key ? { authorization: `Bearer ${key}` } : {} });
      expect((await get('/metrics')).statusCode).toBe(401);
      expect((await get('/metrics', 'wrong')).statusCode).toBe(401);
      const res = await get('/metrics', SCOPED_KEYS.ingest);
      expect(res.statusCode).toBe(200);
      expect(parseExposition(res.body).map((s) => s.name)).toContain('crm_hub_queue_jobs');
      expect(res.body).toContain('# HELP crm_hub_records_processed_total');
      expect((await get('/health')).statusCode).toBe(200);
      expect((await get('/ready')).statusCode).toBe(200);
      expect((await get('/v1/profiles', SCOPED_KEYS.read)).statusCode).toBe(404);
    } finally {
      await worker.close();
    }
  });
});
