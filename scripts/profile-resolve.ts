// Where a record's resolution spends its time: resolves the growth benchmark's messy records
// (bench/match/people.ts) in batches of 1000, one after the other, on a PostgreSQL schema seeded with
// N synthetic people, and prints per record the wall time, the process's CPU and the time spent
// waiting on each statement. Run it with `node --cpu-prof --import tsx` for the CPU side's detail.
//
//   npx tsx scripts/profile-resolve.ts [--people 5000] [--records 20000] [--keep]
//
// Uses DATABASE_URL (default: the tests' database). The store lives in schema `profile_<people>`;
// with --keep it stays for the next run (a 500,000-person seed takes minutes), otherwise it is
// dropped at the end. A kept store grows by the records each run adds.
import { parseArgs } from 'node:util';
import { parseConfig } from '../src/core/config/load-config.js';
import { resolveOptions } from '../src/core/identity/resolve-options.js';
import type { ReceivedRecord } from '../src/core/record.schema.js';
import type { Db, Sql } from '../src/core/store/db.js';
import { migrate } from '../src/core/store/migrate.js';
import { createPostgresDb } from '../src/core/store/postgres.db.js';
import { createProfileStore } from '../src/core/store/profile.store.js';
import { messyRecords } from '../bench/match/people.js';
import { seedPeopleSql, vacuumSchema } from '../bench/match/seed-sql.js';
import { DATABASE_URL } from '../test/support/env.js';

const BATCH = 1000;
/** The people messy records are made of, as in `bench:match --growth` (its --growth-small). */
const KNOWN_PEOPLE = 5000;

const { values } = parseArgs({ options: { people: { type: 'string', default: '5000' }, records: { type: 'string', default: '20000' }, keep: { type: 'boolean', default: false } } });
const people = Number(values.people);
const records = Number(values.records);
if (!Number.isInteger(people) || people < 1 || !Number.isInteger(records) || records < 1) {
  console.error('usage: npx tsx scripts/profile-resolve.ts [--people N] [--records M] [--keep]');
  process.exit(2);
}

const schema = `profile_${people}`;
const admin = createPostgresDb({ connectionString: DATABASE_URL, max: 1 });
const config = parseConfig({});
await admin.exec(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
const base = createPostgresDb({ connectionString: DATABASE_URL, schema, max: 2 });

/** Per statement (its first words): calls and milliseconds waited. */
const waits = new Map<string, { calls: number; ms: number }>();
const timed = (sql: Sql): Sql => ({
  async query(text, params, options) {
    const t0 = performance.now();
    try {
      return await sql.query(text, params, options);
    } finally {
      const key = text.replace(/\s+/g, ' ').trim().slice(0, 70);
      const w = waits.get(key) ?? { calls: 0, ms: 0 };
      w.calls += 1;
      w.ms += performance.now() - t0;
      waits.set(key, w);
    }
  },
});
const db: Db = { ...base, query: timed(base).query, transaction: (fn) => base.transaction((tx) => fn(timed(tx))) };

try {
  await migrate(base);
  const stored = (await base.query<{ n: number }>('SELECT count(*)::int AS n FROM profiles')).rows[0]?.n ?? 0;
  if (stored === 0) {
    const t0 = performance.now();
    await seedPeopleSql(base, config, 'seed', people, () => {});
    await vacuumSchema(base);
    console.log(`seeded ${people} people in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  const store = createProfileStore(db, resolveOptions(config.identity));
  const resolve = async (source: string, count: number, seed: number) => {
    const messy = messyRecords(source, count, KNOWN_PEOPLE, seed);
    const receivedAt = new Date().toISOString();
    for (let i = 0; i < messy.length; i += BATCH) await store.resolveBatch(messy.slice(i, i + BATCH).map((m): ReceivedRecord => ({ ...m.record, receivedAt })));
  };
  // Untimed: JIT, prepared statements and caches warm up first.
  await resolve(`warmup-${Date.now()}`, BATCH, 99);
  waits.clear();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await resolve(`profile-${Date.now()}`, records, 7);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const perRecord = (ms: number) => `${((ms * 1000) / records).toFixed(0)} µs`;
  const waited = [...waits.values()].reduce((sum, w) => sum + w.ms, 0);
  console.log(
    `${records} records into ${people} people: ${(records / (wallMs / 1000)).toFixed(0)} records/s; per record ${perRecord(wallMs)} wall, ` +
      `${perRecord((cpu.user + cpu.system) / 1000)} CPU here, ${perRecord(waited)} waiting on PostgreSQL`,
  );
  for (const [statement, w] of [...waits.entries()].sort((a, b) => b[1].ms - a[1].ms)) console.log(`${perRecord(w.ms).padStart(8)}  ${String(w.calls).padStart(5)}×  ${statement}`);
} finally {
  await base.close();
  if (!values.keep) await admin.exec(`DROP SCHEMA ${schema} CASCADE`);
  await admin.close();
}
