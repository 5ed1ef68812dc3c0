import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { DATABASE_URL } from '../support/env.js';
import { startTestHub } from '../support/hub.js';
import { call, createLab, drained, ingestCounts, makeRecords, report, sendAll, sleep, started, storeState, type Lab, type Rec } from './support.js';

const RECORDS = 20_000;

const labs: Lab[] = [];
afterEach(async () => {
  for (const lab of labs.splice(0)) await lab.cleanup();
});
function newLab(): Lab {
  const lab = createLab();
  labs.push(lab);
  return lab;
}

/** The same input through one in-process hub with no fault: what the store must hold afterwards. */
async function crashFreeRun(records: Rec[]) {
  const hub = await startTestHub({ store: 'postgres', config: { pipeline: { concurrency: 8 } } });
  try {
    const t0 = Date.now();
    for (let i = 0; i < records.length; i += 500) {
      const res = await hub.request('POST', '/v1/records', { body: { records: records.slice(i, i + 500) } });
      expect(res.statusCode, res.body).toBe(202);
    }
    await hub.drained(180_000);
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    try {
      return { state: await storeState(admin, hub.testDb.schema!), ms: Date.now() - t0 };
    } finally {
      await admin.end();
    }
  } finally {
    await hub.close();
  }
}

describe('worker processes killed with SIGKILL mid-ingest', () => {
  it(`store ${RECORDS} records exactly once in effect, as a crash-free run does`, async () => {
    const lab = newLab();
    const records = makeRecords(RECORDS, 'crash');
    const reference = await crashFreeRun(records);
    expect(reference.state.records).toBe(RECORDS);

    const { schema, admin, url } = await lab.freshSchema();
    const prefix = lab.queuePrefix();
    const config = lab.configFile({ concurrency: 4 });
    const env = { databaseUrl: url(), prefix, config };
    const api = await lab.start('api', env);
    const workers = [await lab.start('worker', env), await lab.start('worker', env)];
    await Promise.all([started(api), ...workers.map((w) => started(w))]);

    const t0 = Date.now();
    const sending = sendAll(api.port, records);
    let sent = false;
    void sending.then(() => (sent = true));
    // Kill a random worker at random moments while jobs are in flight, and start a new one at once.
    const kills: { atMs: number; active: number }[] = [];
    while (kills.length < 3 || !sent) {
      await sleep(800 + Math.random() * 1700);
      const counts = await ingestCounts(prefix);
      if (sent && counts['waiting']! + counts['active']! + counts['delayed']! === 0) break;
      const victim = Math.floor(Math.random() * workers.length);
      await workers[victim]!.kill();
      kills.push({ atMs: Date.now() - t0, active: counts['active']! });
      workers[victim] = await lab.start('worker', env);
    }
    await sending;
    const lastKill = Date.now();
    const recoverMs = await drained(prefix, 240_000);
    const totalMs = Date.now() - t0;

    const counts = await ingestCounts(prefix);
    const state = await storeState(admin, schema);
    report('1-crash', {
      recordsSent: RECORDS,
      kills: kills.length,
      killTimesMs: kills.map((k) => k.atMs),
      activeJobsAtKills: kills.map((k) => k.active),
      processed: state.records,
      lost: RECORDS - state.distinctRecords,
      doubled: state.records - state.distinctRecords,
      profiles: state.profiles,
      referenceProfiles: reference.state.profiles,
      interactions: state.interactions,
      referenceInteractions: reference.state.interactions,
      failedJobs: counts['failed'],
      activeJobs: counts['active'],
      recoverAfterLastKillMs: recoverMs,
      crashRunMs: totalMs,
      referenceRunMs: reference.ms,
      sinceLastKillMs: Date.now() - lastKill,
    });
    expect(kills.length).toBeGreaterThanOrEqual(3);
    expect(kills.some((k) => k.active > 0), 'at least one kill hit a worker with jobs in hand').toBe(true);
    expect(counts).toMatchObject({ active: 0, waiting: 0, delayed: 0, failed: 0 });
    expect(state.records).toBe(RECORDS);
    expect(state.distinctRecords).toBe(RECORDS);
    expect(state.profiles).toBe(reference.state.profiles);
    expect(state.interactions).toBe(reference.state.interactions);
    expect(state.timelines).toEqual(reference.state.timelines);
  });
});

describe('SIGTERM during ingest', () => {
  it('a worker finishes or returns its jobs and exits 0; the API answers its in-flight requests and exits 0; nothing accepted is lost', async () => {
    const lab = newLab();
    const records = makeRecords(6000, 'term');
    const { schema, admin, url } = await lab.freshSchema();
    const prefix = lab.queuePrefix();
    const config = lab.configFile({ concurrency: 4, transactionSize: 100 });
    const env = { databaseUrl: url(), prefix, config };
    const api = await lab.start('api', env);
    const worker = await lab.start('worker', env);
    await Promise.all([started(api), started(worker)]);

    // Batches of 100, posted one after another; the API is stopped part way.
    const accepted = new Set<string>();
    let refused = 0;
    let failedAnswers = 0;
    const sending = (async () => {
      for (let i = 0; i < records.length; i += 100) {
        const batch = records.slice(i, i + 100);
        const res = await call(api.port, 'POST', '/v1/records', { records: batch }).catch(() => null);
        if (res === null) refused += 1;
        else if (res.status === 202) batch.forEach((r) => accepted.add(`${r.source}/${r.sourceId}`));
        else failedAnswers += 1;
      }
    })();

    while ((await ingestCounts(prefix))['active'] === 0) await sleep(50);
    const workerStop = await worker.stop(40_000);
    const afterWorkerStop = await ingestCounts(prefix);
    await sleep(300);
    const apiStop = await api.stop(40_000);
    await sending;

    expect(workerStop, worker.stdout + worker.stderr).toMatchObject({ code: 0, signal: null });
    expect(apiStop, api.stdout + api.stderr).toMatchObject({ code: 0, signal: null });
    expect(worker.logs().at(-1)?.msg).toBe('stopped');
    expect(api.logs().at(-1)?.msg).toBe('stopped');
    // Nothing is left in active: the stopped worker finished its jobs (or handed them back).
    expect(afterWorkerStop['active']).toBe(0);

    // A new worker takes what is still queued.
    const second = await lab.start('worker', env);
    await started(second);
    await drained(prefix, 120_000);
    const state = await storeState(admin, schema);
    const { rows } = await admin.query<{ key: string }>(`SELECT source || '/' || source_id AS key FROM ${schema}.records`);
    const stored = new Set(rows.map((r) => r.key));
    const lost = [...accepted].filter((k) => !stored.has(k)).length;
    report('4-sigterm', {
      recordsSent: records.length,
      accepted: accepted.size,
      refusedAfterApiStop: refused,
      non202Answers: failedAnswers,
      processed: state.records,
      lost,
      doubled: state.records - state.distinctRecords,
      workerExit: workerStop,
      apiExit: apiStop,
      jobsStillActiveAfterWorkerExit: afterWorkerStop['active'],
    });
    expect(accepted.size).toBeGreaterThan(0);
    expect(failedAnswers).toBe(0);
    expect(lost).toBe(0);
    expect(state.records).toBe(state.distinctRecords);
    expect(workerStop.ms).toBeLessThan(35_000);
    expect(apiStop.ms).toBeLessThan(35_000);
  });
});
