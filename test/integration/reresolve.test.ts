import { afterEach, describe, expect, it } from 'vitest';
import { STORES } from '../support/env.js';
import { createTestDb, type TestDb } from '../support/hub.js';
import { parseConfig } from '../../src/core/config/load-config.js';
import { createLogger } from '../../src/core/logger.js';
import { migrate } from '../../src/core/store/migrate.js';
import { createProfileStore } from '../../src/core/store/profile.store.js';
import { resolveOptions } from '../../src/core/identity/resolve-options.js';
import { reresolveAll } from '../../src/core/identity/reresolve.js';
import type { ReceivedRecord } from '../../src/core/record.schema.js';
import type { Db } from '../../src/core/store/db.js';
import { cleanRecord, messyRecords } from '../../bench/match/people.js';

const log = createLogger({ level: 'silent' });
const CHUNK = 100;

/** 150 people as one system knows them, then 250 messy records of them and of strangers from another. */
function input(): ReceivedRecord[] {
  const records = [...Array.from({ length: 150 }, (_, k) => cleanRecord('crm', k)), ...messyRecords('shop', 250, 150, 5).map((m) => m.record)];
  const start = Date.parse('2026-01-01T00:00:00Z');
  return records.map((r, i) => ({ ...r, receivedAt: new Date(start + i * 1000).toISOString() }));
}

function store(db: Db, matching: boolean) {
  return createProfileStore(db, resolveOptions(parseConfig({ identity: { matching: { enabled: matching } } }).identity));
}

async function ingest(db: Db, matching: boolean, records: ReceivedRecord[]) {
  const s = store(db, matching);
  for (let i = 0; i < records.length; i += CHUNK) await s.resolveBatch(records.slice(i, i + CHUNK));
}

/** The clusters as sets of record keys, independent of profile ids. */
async function clusters(db: Db): Promise<string[]> {
  const rows = (await db.query<{ source: string; source_id: string; profile_id: string }>('SELECT source, source_id, profile_id FROM records')).rows;
  const byProfile = new Map<string, string[]>();
  for (const r of rows) byProfile.set(r.profile_id, [...(byProfile.get(r.profile_id) ?? []), `${r.source}/${r.source_id}`]);
  return [...byProfile.values()].map((keys) => keys.sort().join(' ')).sort();
}

describe.each(STORES)('re-resolution on %s', (kind) => {
  const dbs: TestDb[] = [];
  afterEach(async () => {
    for (const t of dbs.splice(0)) await t.drop();
  });
  async function fresh(): Promise<Db> {
    const t = await createTestDb(kind);
    dbs.push(t);
    await migrate(t.db);
    return t.db;
  }

  it('re-clusters records ingested under old rules into the clusters fresh ingestion makes under new ones, and old ids still lead somewhere', async () => {
    const records = input();
    const reference = await fresh();
    await ingest(reference, true, records);

    const db = await fresh();
    await ingest(db, false, records);
    const before = await clusters(db);
    const oldIds = (await db.query<{ id: string }>('SELECT id FROM profiles')).rows.map((r) => r.id);
    expect(before).not.toEqual(await clusters(reference));

    const outcome = await reresolveAll(db, store(db, true), { chunk: CHUNK, log });
    expect(outcome).toMatchObject({ records: records.length, resumed: false });
    expect(await clusters(db)).toEqual(await clusters(reference));
    // Every id a client may hold is a live profile or redirects (in one hop) to one.
    const dangling = await db.query(
      `SELECT p.id FROM profiles p LEFT JOIN profiles s ON s.id = p.merged_into
        WHERE p.id IN (SELECT jsonb_array_elements_text($1::jsonb)::uuid) AND p.merged_into IS NOT NULL AND (s.id IS NULL OR s.merged_into IS NOT NULL)`,
      [JSON.stringify(oldIds)],
    );
    expect(dangling.rows).toEqual([]);
    const live = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM profiles p WHERE merged_into IS NULL AND NOT EXISTS (SELECT 1 FROM records r WHERE r.profile_id = p.id)');
    expect(live.rows[0]?.n).toBe(0);
  });

  it('resumes a run that stopped midway and reaches the same clusters', async () => {
    const records = input();
    const reference = await fresh();
    await ingest(reference, true, records);
    const db = await fresh();
    await ingest(db, false, records);

    const real = store(db, true);
    let chunks = 0;
    const crashing = {
      resolveBatch: (batch: ReceivedRecord[], actor?: string, run?: number | null) => {
        chunks += 1;
        if (chunks === 3) return Promise.reject(new Error('process killed'));
        return real.resolveBatch(batch, actor, run);
      },
    };
    await expect(reresolveAll(db, crashing, { chunk: CHUNK, log })).rejects.toThrow('process killed');
    const resumed = await reresolveAll(db, real, { chunk: CHUNK, log });
    expect(resumed.resumed).toBe(true);
    expect(await clusters(db)).toEqual(await clusters(reference));
    expect((await db.query('SELECT 1 FROM resolve_runs WHERE finished_at IS NULL')).rows).toEqual([]);
  });
});
