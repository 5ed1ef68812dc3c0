import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ReceivedRecord } from '../../src/core/record.schema.js';
import type { Sql } from '../../src/core/store/db.js';
import { ensureLockRows, identifierLock } from '../../src/core/store/identity-locks.js';
import { migrate } from '../../src/core/store/migrate.js';
import type { ProfileStore } from '../../src/core/store/profile.store.js';
import { createTestDb, defaultProfileStore, waitFor, type TestDb } from '../support/hub.js';

function contact(sourceId: string, email: string, firstName: string): ReceivedRecord {
  return { source: 'crm', sourceId, kind: 'contact', identifiers: { emails: [email] }, traits: { firstName }, receivedAt: new Date().toISOString() };
}

/**
 * Runs `hold` in a transaction of its own and keeps it open until the returned release is called:
 * what it locked stays locked meanwhile. PostgreSQL only: the embedded store has one connection.
 */
async function holdOpen(t: TestDb, hold: (tx: Sql) => Promise<void>): Promise<() => Promise<void>> {
  let release = () => undefined as void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let held = () => undefined as void;
  const holding = new Promise<void>((resolve) => {
    held = resolve;
  });
  const done = t.db.transaction(async (tx) => {
    await hold(tx);
    held();
    await released;
  });
  await holding;
  return async () => {
    release();
    await done;
  };
}

describe('a batch beside a transaction that holds part of it (PostgreSQL)', () => {
  let t: TestDb;
  let store: ProfileStore;
  beforeEach(async () => {
    t = await createTestDb('postgres');
    await migrate(t.db);
    store = defaultProfileStore(t.db);
  });
  afterEach(async () => {
    await t.drop();
  });

  const stored = async (sourceId: string) => (await t.db.query('SELECT 1 FROM records WHERE source = $1 AND source_id = $2', ['crm', sourceId])).rows.length === 1;

  it('stores the records whose identifiers are free while the one whose identifier is held waits', async () => {
    const key = identifierLock('email', 'held@example.com');
    await ensureLockRows(t.db, [key]);
    const release = await holdOpen(t, async (tx) => {
      await tx.query('SELECT key FROM identity_locks WHERE key = $1::bigint FOR UPDATE', [key]);
    });
    const resolving = store.resolveBatch([contact('a', 'held@example.com', 'Анна'), contact('b', 'free@example.com', 'Борис')]);
    await waitFor(() => stored('b'));
    expect(await stored('a')).toBe(false);
    await release();
    const results = await resolving;
    expect(results.map((r) => r.sourceId).sort()).toEqual(['a', 'b']);
    expect(await stored('a')).toBe(true);
  });

  it('stores the records whose profiles are free while the one joining a held profile waits, and then joins it', async () => {
    const [first] = await store.resolveBatch([contact('p1', 'known@example.com', 'Вера')]);
    const profileId = first?.profileId ?? '';
    const release = await holdOpen(t, async (tx) => {
      await tx.query('SELECT id FROM profiles WHERE id = $1 FOR UPDATE', [profileId]);
    });
    const resolving = store.resolveBatch([contact('p2', 'known@example.com', 'Вера'), contact('q1', 'other@example.com', 'Глеб')]);
    await waitFor(() => stored('q1'));
    expect(await stored('p2')).toBe(false);
    await release();
    const results = await resolving;
    expect(results.find((r) => r.sourceId === 'p2')?.profileId).toBe(profileId);
    expect(results.find((r) => r.sourceId === 'q1')?.profileId).not.toBe(profileId);
  });
});
