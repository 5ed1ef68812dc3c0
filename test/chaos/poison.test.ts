import { describe, expect, it } from 'vitest';
import { migrate } from '../../src/core/store/migrate.js';
import type { ReceivedRecord } from '../../src/core/record.schema.js';
import { createTestDb, defaultProfileStore, startTestHub, waitFor } from '../support/hub.js';
import { makeRecords, report } from './support.js';

// test/integration/poison.test.ts shows one poison record in a batch of four; this is the same at
// volume: three poison records among 4,000 in batches of 500.
describe('poison records among thousands', () => {
  it('end in the failed set with their error after their retries while the rest flow on, and replay once fixed', async () => {
    const testDb = await createTestDb('postgres');
    await migrate(testDb.db);
    const real = defaultProfileStore(testDb.db);
    const records = makeRecords(4000, 'poison');
    const poison = new Set([records[17]!.sourceId, records[1999]!.sourceId, records[3500]!.sourceId]);
    let broken = true;
    let poisonAttempts = 0;
    const workerStore = {
      resolveBatch(batch: ReceivedRecord[]) {
        if (broken && batch.some((r) => poison.has(r.sourceId))) {
          if (batch.length === 1) poisonAttempts += 1;
          return Promise.reject(new Error('mapping bug: this record cannot be stored'));
        }
        return real.resolveBatch(batch);
      },
    };
    const hub = await startTestHub({ store: 'postgres', testDb, workerStore, config: { pipeline: { attempts: 3, backoffMs: 20 } } });
    try {
      const t0 = Date.now();
      for (let i = 0; i < records.length; i += 500) expect((await hub.request('POST', '/v1/records', { body: { records: records.slice(i, i + 500) } })).statusCode).toBe(202);
      await hub.drained(120_000);
      const flowMs = Date.now() - t0;

      const stored = (await hub.store.counts()).records;
      const failed = await hub.ingest.queue.getFailed();
      expect(stored).toBe(records.length - poison.size);
      expect(failed.map((j) => j.data.records.map((r) => r.sourceId)).flat().sort()).toEqual([...poison].sort());
      for (const job of failed) {
        expect(job.failedReason).toBe('mapping bug: this record cannot be stored');
        expect(job.attemptsMade).toBe(3);
      }
      for (const id of poison) expect((await hub.request('GET', `/v1/records/${records.find((r) => r.sourceId === id)!.source}/${id}`)).json()).toMatchObject({ status: 'failed' });

      broken = false;
      const t1 = Date.now();
      expect((await hub.request('POST', '/v1/queues/ingest/retry-failed')).json()).toEqual({ retried: poison.size });
      await waitFor(async () => (await hub.store.counts()).records === records.length, 30_000);
      await hub.drained();
      report('5-poison', {
        recordsSent: records.length,
        poison: poison.size,
        storedBeforeFix: stored,
        failedJobs: failed.length,
        attemptsPerPoisonJob: failed.map((j) => j.attemptsMade),
        poisonAttemptsAlone: poisonAttempts,
        restFlowedInMs: flowMs,
        processedAfterReplay: (await hub.store.counts()).records,
        replayMs: Date.now() - t1,
        failedAfterReplay: (await hub.ingest.queue.getJobCounts('failed'))['failed'],
      });
      expect((await hub.ingest.queue.getJobCounts('failed'))['failed']).toBe(0);
    } finally {
      await hub.close();
      await testDb.drop();
    }
  });
});
