import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { DATABASE_URL, STORES } from '../support/env.js';
import { createTestDb, type TestDb } from '../support/hub.js';
import { oracleByRecency, oracleByValue, oracleInteractions, oracleNewVsReturning, oracleOverview, oracleSources } from '../support/reports-oracle.js';
import { parseConfig } from '../../src/core/config/load-config.js';
import { createLogger } from '../../src/core/logger.js';
import { migrate } from '../../src/core/store/migrate.js';
import { createProfileStore } from '../../src/core/store/profile.store.js';
import { createCurationStore } from '../../src/core/store/curation.store.js';
import { createErasureStore } from '../../src/core/erasure/erasure.store.js';
import { resolveOptions } from '../../src/core/identity/resolve-options.js';
import { reresolveAll } from '../../src/core/identity/reresolve.js';
import { createReportsStore, type Interval, type ReportsStore } from '../../src/core/reports/reports.store.js';
import { invalidateRollups } from '../../src/core/reports/rollups.js';
import { APPLICATION_NAME } from '../../src/core/store/postgres.db.js';
import type { HubRecord, ReceivedRecord } from '../../src/core/record.schema.js';
import type { Db } from '../../src/core/store/db.js';
import { cleanRecord, messyRecords } from '../../bench/match/people.js';

// The rollup-backed reports must give the figures the records give (test/support/reports-oracle.ts
// reads them straight from the records, as the reports did before the rollups) after every kind of
// change: new records, new versions of records, merges automatic and manual, splits, erasure,
// re-resolution, and writes that commit while a fold runs.

const log = createLogger({ level: 'silent' });
const DAY = 86_400_000;

function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

const CHANNELS = ['call', 'email', 'order', 'invoice', 'payment', 'form', 'other', null] as const;
const START = Date.parse('2026-01-01T00:00:00Z');

/** An interaction of a known contact (linked by its external id or its email) at a pseudo-random time in the first half of 2026. */
function interaction(random: () => number, source: string, sourceId: string, link: HubRecord['identifiers']): HubRecord {
  const channel = CHANNELS[Math.floor(random() * CHANNELS.length)] ?? null;
  // A third at midnight UTC sharp: period edges are where a rollup would go wrong.
  const at = random() < 0.3 ? START + Math.floor(random() * 180) * DAY : START + Math.floor(random() * 180 * DAY);
  const sale = channel === 'order' || channel === 'invoice' || channel === 'payment';
  const currency = random() < 0.6 ? 'RUB' : random() < 0.7 ? 'USD' : undefined;
  return {
    source,
    sourceId,
    kind: 'interaction',
    occurredAt: new Date(at).toISOString(),
    identifiers: link,
    // A record of kind interaction without its interaction object is reported as channel "other".
    ...(channel === null
      ? {}
      : { interaction: { channel, ...(sale || random() < 0.2 ? { amount: Math.round(random() * 100_000) / 100, ...(currency ? { currency } : {}) } : {}) } }),
  };
}

const phone = (k: number) => `+7916${String(1_000_000 + k * 7919).slice(-7)}`;

/**
 * 40 clean contacts, 60 messy ones (half of them the same people), 10 app contacts known by a phone
 * alone, 0-3 interactions each, and last, one call per app contact that carries that phone and a
 * clean contact's email: each merges two profiles.
 */
function input(seed: number): HubRecord[] {
  const random = prng(seed);
  const clean = Array.from({ length: 40 }, (_, k) => ({ ...cleanRecord('crm', k), occurredAt: new Date(START - (k + 1) * DAY).toISOString() }));
  const contacts: HubRecord[] = [
    ...clean,
    ...messyRecords('shop', 60, 40, seed).map((m, i) => ({ ...m.record, occurredAt: new Date(START + i * 3 * DAY + 3_600_000).toISOString() })),
    ...Array.from({ length: 10 }, (_, k): HubRecord => ({ source: 'app', sourceId: `ph-${k}`, kind: 'contact', occurredAt: new Date(START + k * 5 * DAY).toISOString(), identifiers: { phones: [phone(k)] } })),
  ];
  const bridges = clean.slice(0, 10).map(
    (c, k): HubRecord => ({ ...interaction(random, 'pbx', `bridge-${k}`, { emails: c.identifiers?.emails ?? [], phones: [phone(k)] }), kind: 'interaction', interaction: { channel: 'call' } }),
  );
  const interactions = contacts.flatMap((c, i) =>
    Array.from({ length: Math.floor(random() * 4) }, (_, j) =>
      interaction(random, c.source === 'crm' ? 'pbx' : 'pos', `${i}-${j}`, c.identifiers?.emails && random() < 0.5 ? { emails: c.identifiers.emails } : { ids: { [c.source]: c.sourceId } }),
    ),
  );
  return [...contacts, ...interactions, ...bridges];
}

let clock = Date.parse('2026-07-01T00:00:00Z');
function received(records: HubRecord[]): ReceivedRecord[] {
  return records.map((r) => ({ ...r, receivedAt: new Date((clock += 1000)).toISOString() }));
}

function profileStore(db: Db, matching: boolean) {
  return createProfileStore(db, resolveOptions(parseConfig({ identity: { matching: { enabled: matching } } }).identity));
}

async function ingest(db: Db, matching: boolean, records: HubRecord[]) {
  const store = profileStore(db, matching);
  for (let i = 0; i < records.length; i += 50) await store.resolveBatch(received(records.slice(i, i + 50)));
}

const RANGES: { from: string; to: string }[] = [
  { from: '2025-12-01T00:00:00.000Z', to: '2026-07-01T00:00:00.000Z' },
  // Starts and ends inside a day, a week and a month.
  { from: '2026-02-10T05:30:00.000Z', to: '2026-05-17T18:00:00.000Z' },
  // Inside one week.
  { from: '2026-03-03T10:00:00.000Z', to: '2026-03-05T01:00:00.000Z' },
  // Inside one day.
  { from: '2026-04-01T00:00:00.000Z', to: '2026-04-01T12:00:00.000Z' },
];
const INTERVALS: Interval[] = ['day', 'week', 'month'];

async function pageAll<T>(page: (cursor?: string) => Promise<{ data: T[]; nextCursor: string | null }>): Promise<T[]> {
  const all: T[] = [];
  let cursor: string | undefined;
  do {
    const next = await page(cursor);
    all.push(...next.data);
    cursor = next.nextCursor ?? undefined;
  } while (cursor);
  return all;
}

const byCurrency = <T extends { amounts: { currency: string }[] }>(rows: T[]) => rows.map((r) => ({ ...r, amounts: [...r.amounts].sort((a, b) => a.currency.localeCompare(b.currency)) }));

/** Every report, every range and interval, both orders, paged 7 at a time: equal to the records' figures. */
async function expectReportsMatchRecords(db: Db, reports: ReportsStore, label: string): Promise<void> {
  expect(await reports.overview(), label).toEqual(await oracleOverview(db));
  expect(await reports.sources(), label).toEqual(await oracleSources(db));
  for (const range of RANGES) {
    for (const interval of INTERVALS) {
      for (const channel of [undefined, 'order', 'other']) {
        const q = { ...range, interval, ...(channel ? { channel } : {}) };
        expect(byCurrency(await reports.interactions(q)), `${label} interactions ${JSON.stringify(q)}`).toEqual(byCurrency(await oracleInteractions(db, q)));
      }
      const q = { ...range, interval };
      expect(await reports.newVsReturning(q), `${label} new-vs-returning ${JSON.stringify(q)}`).toEqual(await oracleNewVsReturning(db, q));
    }
  }
  const asOf = '2026-08-01T00:00:00.000Z';
  for (const order of ['asc', 'desc'] as const) {
    for (const currency of [undefined, 'RUB', 'USD', 'XXX']) {
      const paged = await pageAll((cursor) => reports.customers({ sort: 'value', order, limit: 7, asOf, ...(currency ? { currency } : {}), ...(cursor ? { cursor } : {}) }));
      expect(
        paged.map(({ profileId, currency: c, value, stage }) => ({ profileId, currency: c, value, stage })),
        `${label} by value ${order} ${currency ?? ''}`,
      ).toEqual(await oracleByValue(db, order, currency));
    }
    const recent = await pageAll((cursor) => reports.customers({ sort: 'recency', order, limit: 7, asOf, ...(cursor ? { cursor } : {}) }));
    expect(
      recent.map(({ profileId, lastInteractionAt, daysSinceLastInteraction }) => ({ profileId, lastInteractionAt, daysSinceLastInteraction })),
      `${label} by recency ${order}`,
    ).toEqual(await oracleByRecency(db, order, asOf));
  }
}

describe.each(STORES)('report rollups on %s', (kind) => {
  let testDb: TestDb;
  let db: Db;
  let reports: ReportsStore;

  beforeAll(async () => {
    testDb = await createTestDb(kind);
    db = testDb.db;
    await migrate(db);
    reports = createReportsStore(db);
  });
  afterAll(async () => {
    await testDb?.drop();
  });

  it('follow the records through ingestion, new versions, merges, splits, erasure and re-resolution', async () => {
    const records = input(7);
    // Before anything: empty reports, and the first fold is a rebuild.
    expect((await reports.fold()).rebuilt).toBe(true);
    await expectReportsMatchRecords(db, reports, 'empty');

    await ingest(db, true, records);
    const merged = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM profile_merges')).rows[0]?.n ?? 0;
    expect(merged, 'the input makes the matcher merge').toBeGreaterThan(0);
    await expectReportsMatchRecords(db, reports, 'ingested');

    // New versions: other times, channels and amounts for a third of the interactions.
    const random = prng(99);
    const changed = records.filter((r) => r.kind === 'interaction' && random() < 0.33).map((r) => interaction(random, r.source, r.sourceId, r.identifiers));
    await ingest(db, true, changed);
    await expectReportsMatchRecords(db, reports, 'new versions');

    // A manual merge of two profiles and a split of another.
    const profiles = (
      await db.query<{ id: string; n: number }>(`SELECT profile_id AS id, count(*)::int AS n FROM records GROUP BY profile_id HAVING count(*) > 2 ORDER BY profile_id LIMIT 3`)
    ).rows;
    expect(profiles.length).toBe(3);
    const [a, b, c] = profiles as unknown as [{ id: string }, { id: string }, { id: string }];
    const curation = createCurationStore(db, profileStore(db, true));
    await curation.mergeProfiles(a.id, b.id, 'test');
    const moving = (await db.query<{ source: string; sourceId: string }>(`SELECT source, source_id AS "sourceId" FROM records WHERE profile_id = $1 ORDER BY occurred_at DESC LIMIT 2`, [c.id])).rows;
    await curation.splitProfile(c.id, moving, 'test');
    await expectReportsMatchRecords(db, reports, 'merge and split');

    // Erasure of the merged profile (it holds the merged-away one): its facts go too.
    const erased = await createErasureStore(db).erase(a.id);
    expect(erased.status).toBe('erased');
    await expectReportsMatchRecords(db, reports, 'erasure');
    for (const table of ['report_profiles', 'report_profile_sources', 'report_profile_days', 'report_profile_values']) {
      const left = await db.query(`SELECT 1 FROM ${table} WHERE profile_id = ANY($1::uuid[])`, [[a.id, b.id]]);
      expect(left.rows, table).toEqual([]);
    }

    // Re-resolution without the matcher pulls clusters apart, with it again puts them back.
    await reresolveAll(db, profileStore(db, false), { chunk: 40, log });
    await expectReportsMatchRecords(db, reports, 're-resolution apart');
    await reresolveAll(db, profileStore(db, true), { chunk: 40, log });
    await expectReportsMatchRecords(db, reports, 're-resolution together');

    // A rebuild from scratch gives what the folds gave.
    const before = { overview: await reports.overview(), sources: await reports.sources() };
    await invalidateRollups(db);
    expect((await reports.fold()).rebuilt).toBe(true);
    expect({ overview: await reports.overview(), sources: await reports.sources() }).toEqual(before);
  });

  it('folds running beside ingestion, in two processes at once, end equal to the records', async () => {
    const other = createReportsStore(db);
    const more = input(11).map((r) => ({ ...r, sourceId: `b-${r.sourceId}` }));
    let ingesting = true;
    const folding = (async () => {
      while (ingesting) await Promise.all([reports.fold(), other.fold(), reports.fold()]);
    })();
    await ingest(db, true, more);
    ingesting = false;
    await folding;
    await expectReportsMatchRecords(db, other, 'after concurrent folds');
  });

  it('a scheduled fold leaves the profiles changed within its settle time to a later fold', async () => {
    await reports.fold();
    const recordsFolded = async () => Number((await db.query<{ n: string }>('SELECT COALESCE(sum(records), 0) AS n FROM report_profile_sources')).rows[0]?.n);
    const before = await recordsFolded();
    await ingest(db, true, input(13).slice(0, 20).map((r) => ({ ...r, sourceId: `settle-${r.sourceId}` })));
    // Just written: not settled for a minute yet.
    expect((await reports.fold({ settleMs: 60_000 })).profiles).toBe(0);
    expect(await recordsFolded()).toBe(before);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await reports.fold({ settleMs: 10 })).profiles).toBeGreaterThan(0);
    expect(await recordsFolded()).toBe(before + 20);
    await expectReportsMatchRecords(db, reports, 'after settled folds');
  });

  it.runIf(kind === 'postgres')('fold in a write that began before a fold and committed after it', async () => {
    await ingest(db, true, input(3).slice(0, 5).map((r) => ({ ...r, sourceId: `late-${r.sourceId}` })));
    await reports.fold();
    const before = await reports.overview();
    const profile = (await db.query<{ id: string }>('SELECT id FROM profiles WHERE merged_into IS NULL ORDER BY id LIMIT 1')).rows[0]?.id;
    // A write of the hub's (its connections say so), and a long read of someone else's.
    const client = new pg.Client({ connectionString: DATABASE_URL, application_name: APPLICATION_NAME, options: `-c search_path=${testDb.schema}` });
    const reader = new pg.Client({ connectionString: DATABASE_URL, application_name: 'psql' });
    await client.connect();
    await reader.connect();
    try {
      await reader.query('BEGIN');
      const readerStart = (await reader.query<{ at: string }>('SELECT now()::text AS at')).rows[0]?.at;
      // As the resolver does: the record and the profile's updated_at = now(), the transaction's start.
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO records (source, source_id, kind, profile_id, occurred_at, received_at, processed_at, interaction)
         VALUES ('late', 'l-1', 'interaction', $1, '2026-03-01T10:00:00Z', now(), clock_timestamp(), '{"channel": "call"}')`,
        [profile],
      );
      await client.query('UPDATE profiles SET updated_at = now() WHERE id = $1', [profile]);
      await new Promise((resolve) => setTimeout(resolve, 50));
      // This fold starts after the write's transaction did and cannot see it yet.
      await reports.fold();
      expect((await reports.overview()).records.total).toBe(before.records.total);
      await client.query('COMMIT');
      // The reader's transaction, older than the writer's, held nothing back.
      await reports.fold();
      const state = (await db.query<{ later: boolean }>('SELECT folded_from > $1::timestamptz AS later FROM report_state', [readerStart])).rows[0];
      expect(state?.later).toBe(true);
    } finally {
      await client.end();
      await reader.end();
    }
    const after = await reports.overview();
    expect(after.records.total).toBe(before.records.total + 1);
    expect(after).toEqual(await oracleOverview(db));
    expect((await reports.sources()).find((s) => s.source === 'late')).toMatchObject({ records: 1, interactions: 1, profiles: 1 });
  });
});
