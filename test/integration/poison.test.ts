import { afterEach, describe, expect, it } from 'vitest';
import { STORES } from '../support/env.js';
import { createTestDb, startTestHub, waitFor, type TestHub, defaultProfileStore } from '../support/hub.js';
import { migrate } from '../../src/core/store/migrate.js';
import type { ReceivedRecord } from '../../src/core/record.schema.js';

describe.each(STORES)('a record that makes the worker throw, on %s', (store) => {
  let hub: TestHub | undefined;
  afterEach(async () => hub?.close());

  it('lands in the failed set with its error while the rest of its batch is stored, and replays once fixed', async () => {
    const testDb = await createTestDb(store);
    await migrate(testDb.db);
    const real = defaultProfileStore(testDb.db);
    let broken = true;
    const workerStore = {
      resolveBatch(records: ReceivedRecord[]) {
        if (broken && records.some((r) => r.sourceId === 'poison')) return Promise.reject(new Error('mapping bug: cannot store record "poison"'));
        return real.resolveBatch(records);
      },
    };
    hub = await startTestHub({ store, testDb, workerStore, config: { pipeline: { attempts: 2, backoffMs: 20 } } });
    const t = hub;
    try {
      const records = ['ok-1', 'ok-2', 'poison', 'ok-3'].map((id) => ({ source: 'erp', sourceId: id, kind: 'contact', identifiers: { emails: [`${id}@example.com`] } }));
      expect((await t.request('POST', '/v1/records', { body: { records } })).statusCode).toBe(202);
      await t.drained();

      for (const id of ['ok-1', 'ok-2', 'ok-3']) expect((await t.request('GET', `/v1/records/erp/${id}`)).json().status).toBe('processed');
      const failed = (await t.request('GET', '/v1/records/erp/poison')).json();
      expect(failed).toMatchObject({ status: 'failed', kind: 'contact', error: 'mapping bug: cannot store record "poison"' });
      const queues = (await t.request('GET', '/v1/queues')).json();
      expect(queues.data.find((q: { name: string }) => q.name === 'ingest')).toMatchObject({ failed: 1 });
      const board = await t.request('GET', '/admin/queues/api/queues?activeQueue=ingest&status=failed&page=1');
      expect(board.statusCode).toBe(200);
      expect(board.body).toContain('mapping bug: cannot store record');

      broken = false;
      const replay = await t.request('POST', '/v1/queues/ingest/retry-failed');
      expect(replay.json()).toEqual({ retried: 1 });
      await waitFor(async () => (await t.request('GET', '/v1/records/erp/poison')).json().status === 'processed');
      expect((await t.store.counts()).records).toBe(4);
    } finally {
      await t.close();
      hub = undefined;
      await testDb.drop();
    }
  });
});
