import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, pingRedis } from '../../src/core/redis.js';
import { call, createLab, drained, ingestCounts, makeRecords, report, sleep, started, storeState, type Answer, type Lab } from './support.js';

const labs: Lab[] = [];
afterEach(async () => {
  for (const lab of labs.splice(0)) await lab.cleanup();
});

/** A redis-server of the test's own on a fixed port, with an fsync'd append-only file so a restart keeps what it acknowledged. */
function redisServer(port: number, dir: string) {
  let child: ChildProcess | null = null;
  return {
    url: `redis://127.0.0.1:${port}`,
    async start() {
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''], { stdio: 'ignore' });
      const deadline = Date.now() + 10_000;
      while (!(await pingRedis(this.url, 300))) {
        if (Date.now() > deadline) throw new Error('redis-server did not start');
        await sleep(50);
      }
    },
    async stop() {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const gone = new Promise((resolve) => c.once('exit', resolve));
      c.kill('SIGTERM');
      await gone;
    },
  };
}

describe('Redis stopped and started mid-ingest', () => {
  it('the API answers 503 problem+json while it is gone, workers reconnect, nothing accepted is lost', async () => {
    const lab = createLab();
    labs.push(lab);
    const redis = redisServer(await freePort(), join(lab.dir, 'redis'));
    mkdirSync(join(lab.dir, 'redis'), { recursive: true });
    await redis.start();
    lab.defer(() => redis.stop());

    const { schema, admin, url } = await lab.freshSchema();
    const prefix = lab.queuePrefix(redis.url);
    const env = { databaseUrl: url(), redisUrl: redis.url, prefix, config: lab.configFile({ concurrency: 4 }) };
    const api = await lab.start('api', env);
    const worker = await lab.start('worker', env);
    await Promise.all([started(api), started(worker)]);

    const records = makeRecords(8000, 'redis');
    const accepted = new Set<string>();
    const whileDown: Answer[] = [];
    const readyWhileDown: Answer[] = [];
    let phase = 'up' as 'up' | 'down' | 'back';
    let firstAcceptAfterRestart: number | null = null;
    let restartedAt = 0;
    const reconnecting: Answer[] = [];
    let next = 0;

    // One client posts batches of 50 records all along; a batch refused with 503 is sent again later, as a client would.
    const sending = (async () => {
      while (next < records.length) {
        const batch = records.slice(next, next + 50);
        const res = await call(api.port, 'POST', '/v1/records', { records: batch }, 15_000);
        if (res.status === 202) {
          batch.forEach((r) => accepted.add(`${r.source}/${r.sourceId}`));
          next += 50;
          if (phase === 'back' && firstAcceptAfterRestart === null) firstAcceptAfterRestart = Date.now() - restartedAt;
        } else {
          // Refusals right after the stop or while the API reconnects after the start count too: each must be a quick 503.
          (phase === 'down' ? whileDown : reconnecting).push(res);
          await sleep(100);
        }
      }
    })();

    while (accepted.size < 2000) await sleep(50);
    await redis.stop();
    phase = 'down';
    const stoppedAt = Date.now();
    while (Date.now() - stoppedAt < 6000) {
      readyWhileDown.push(await call(api.port, 'GET', '/ready', undefined, 10_000));
      await sleep(500);
    }
    await redis.start();
    restartedAt = Date.now();
    phase = 'back';
    await sending;
    const drainMs = await drained(prefix, 120_000, redis.url);

    const { rows } = await admin.query<{ key: string }>(`SELECT source || '/' || source_id AS key FROM ${schema}.records`);
    const stored = new Set(rows.map((r) => r.key));
    const state = await storeState(admin, schema);
    const counts = await ingestCounts(prefix, redis.url);
    const lost = [...accepted].filter((k) => !stored.has(k)).length;
    report('2-redis-restart', {
      recordsSent: records.length,
      accepted: accepted.size,
      processed: state.records,
      lost,
      doubled: state.records - state.distinctRecords,
      outageMs: restartedAt - stoppedAt,
      answersWhileDown: whileDown.length,
      refusedAroundStopAndRestart: reconnecting.length,
      statusesWhileDown: [...new Set(whileDown.map((a) => a.status))],
      slowestAnswerWhileDownMs: Math.max(0, ...whileDown.map((a) => a.ms)),
      readyWhileDown: [...new Set(readyWhileDown.map((a) => a.status))],
      firstAcceptAfterRestartMs: firstAcceptAfterRestart,
      drainAfterSendMs: drainMs,
      failedJobs: counts['failed'],
      workerStillRunning: (await Promise.race([worker.exited.then(() => false), sleep(10).then(() => true)])),
    });

    expect(whileDown.length).toBeGreaterThan(0);
    for (const answer of [...whileDown, ...reconnecting]) {
      expect(answer.status, answer.body).toBe(503);
      expect(answer.type).toMatch(/^application\/problem\+json/);
      expect(answer.ms).toBeLessThan(5000);
    }
    expect(readyWhileDown.every((a) => a.status === 503 && a.type.startsWith('application/problem+json'))).toBe(true);
    expect(accepted.size).toBe(records.length);
    expect(lost).toBe(0);
    expect(state.records).toBe(records.length);
    expect(state.distinctRecords).toBe(records.length);
    expect(counts['failed']).toBe(0);
  });
});
