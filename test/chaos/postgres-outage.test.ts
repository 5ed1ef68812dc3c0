import { afterEach, describe, expect, it } from 'vitest';
import { DATABASE_URL } from '../support/env.js';
import { call, createLab, drained, ingestCounts, makeRecords, report, sleep, started, startProxy, storeState, type Answer, type Lab } from './support.js';

const OUTAGE_MS = 20_000;

const labs: Lab[] = [];
afterEach(async () => {
  for (const lab of labs.splice(0)) await lab.cleanup();
});

describe('PostgreSQL unreachable for 20 s mid-ingest', () => {
  it('jobs retry with backoff and succeed after; /ready says not ready meanwhile; nothing is lost or doubled', async () => {
    const lab = createLab();
    labs.push(lab);
    const target = new URL(DATABASE_URL);
    const proxy = await startProxy(target.hostname, Number(target.port || 5432));
    lab.defer(() => proxy.close());
    const { schema, admin, url } = await lab.freshSchema();
    const prefix = lab.queuePrefix();
    // Both processes reach PostgreSQL only through the proxy; the test's own admin connection goes direct.
    const env = { databaseUrl: url(proxy.port), prefix, config: lab.configFile({ concurrency: 4, transactionSize: 100 }) };
    const api = await lab.start('api', env);
    const worker = await lab.start('worker', env);
    await Promise.all([started(api), started(worker)]);

    const records = makeRecords(6000, 'pg');
    const accepted = new Set<string>();
    const refusedWhileCut: Answer[] = [];
    let cut = false;
    const sending = (async () => {
      for (let i = 0; i < records.length; i += 100) {
        const batch = records.slice(i, i + 100);
        const res = await call(api.port, 'POST', '/v1/records', { records: batch }, 15_000);
        if (res.status === 202) batch.forEach((r) => accepted.add(`${r.source}/${r.sourceId}`));
        else refusedWhileCut.push(res);
        // Spread over the outage: the API keeps taking records while the store is gone.
        await sleep(cut ? 300 : 20);
      }
    })();

    while ((await ingestCounts(prefix))['completed']! < 3) await sleep(50);
    proxy.cut();
    cut = true;
    const cutAt = Date.now();
    const readyWhileCut: Answer[] = [];
    while (Date.now() - cutAt < OUTAGE_MS) {
      readyWhileCut.push(await call(api.port, 'GET', '/ready', undefined, 10_000));
      await sleep(1000);
    }
    proxy.restore();
    cut = false;
    const restoredAt = Date.now();
    let readyAgainMs: number | null = null;
    while (readyAgainMs === null && Date.now() - restoredAt < 30_000) {
      if ((await call(api.port, 'GET', '/ready')).status === 200) readyAgainMs = Date.now() - restoredAt;
      else await sleep(200);
    }
    await sending;
    await drained(prefix, 90_000).catch((err: Error) => {
      throw new Error(`${err.message}\n--- worker log ---\n${worker.stdout.split('\n').slice(-40).join('\n')}\n${worker.stderr}`);
    });
    const drainedAfterRestoreMs = Date.now() - restoredAt;

    const { rows } = await admin.query<{ key: string }>(`SELECT source || '/' || source_id AS key FROM ${schema}.records`);
    const stored = new Set(rows.map((r) => r.key));
    const state = await storeState(admin, schema);
    const counts = await ingestCounts(prefix);
    const retried = worker.logs().filter((l) => l.msg === 'job failed; will retry').length;
    const lost = [...accepted].filter((k) => !stored.has(k)).length;
    report('3-postgres-outage', {
      recordsSent: records.length,
      accepted: accepted.size,
      processed: state.records,
      lost,
      doubled: state.records - state.distinctRecords,
      outageMs: restoredAt - cutAt,
      connectionsRefusedByProxy: proxy.refused,
      jobAttemptsFailedAndRetried: retried,
      readyWhileCut: readyWhileCut.map((a) => a.status),
      slowestReadyWhileCutMs: Math.max(...readyWhileCut.map((a) => a.ms)),
      readyAgainAfterRestoreMs: readyAgainMs,
      drainedAfterRestoreMs,
      failedJobs: counts['failed'],
    });

    expect(refusedWhileCut.map((a) => `${a.status} ${a.body}`)).toEqual([]);
    expect(readyWhileCut.length).toBeGreaterThan(10);
    // The first probe may still catch a pooled connection before it notices; every later one says not ready.
    for (const answer of readyWhileCut.slice(1)) {
      expect(answer.status, answer.body).toBe(503);
      expect(answer.type).toMatch(/^application\/problem\+json/);
      expect(answer.ms).toBeLessThan(5000);
    }
    expect(readyAgainMs).not.toBeNull();
    expect(retried).toBeGreaterThan(0);
    expect(accepted.size).toBe(records.length);
    expect(lost).toBe(0);
    expect(state.records).toBe(records.length);
    expect(state.distinctRecords).toBe(records.length);
    expect(counts).toMatchObject({ failed: 0, active: 0, waiting: 0, delayed: 0 });
  });
});
