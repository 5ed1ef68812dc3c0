// `npm run bench:reports`: the time of each /v1/reports query on a PostgreSQL store of --profiles
// people (default 1M, seeded in SQL by seed.ts: 2.5 records per person, a call or an order each).
// Seeds a fresh schema (dropped at the end unless --keep), or reuses one given with --schema.
// Prints the time of the first fold (a rebuild of the report rollups), the median of --runs runs per
// report after one warm-up run (each report folds first; nothing changes between runs), and the
// time to fold 1,000 and 10,000 changed profiles, and the scheduled inactive alert check. It never
// fails on time.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { migrate } from '../src/core/store/migrate.js';
import { createPostgresDb } from '../src/core/store/postgres.db.js';
import { createReportsStore } from '../src/core/reports/reports.store.js';
import { runScheduledAlerts } from '../src/core/events/alerts.js';
import { DATABASE_URL } from '../test/support/env.js';
import { seedPeople } from './seed.js';
import { fmt, median, table } from './stats.js';

const { values: args } = parseArgs({
  options: {
    profiles: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '5' },
    schema: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const profiles = Number(args.profiles);
const runs = Number(args.runs);
const log = (line: string) => process.stdout.write(`${line}\n`);

const admin = new pg.Client({ connectionString: DATABASE_URL });
await admin.connect();
const schema = args.schema ?? `bench_reports_${randomBytes(3).toString('hex')}`;
const exists = (await admin.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [schema])).rowCount === 1;
if (!exists) await admin.query(`CREATE SCHEMA ${schema}`);
const db = createPostgresDb({ connectionString: DATABASE_URL, schema, max: 2 });
try {
  await migrate(db);
  const seeded = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM profiles')).rows[0]?.n ?? 0);
  if (seeded === 0) {
    const started = Date.now();
    const client = new pg.Client({ connectionString: DATABASE_URL, options: `-c search_path=${schema}` });
    await client.connect();
    try {
      await seedPeople(client, profiles, (done) => log(`  seeded ${fmt(done)} / ${fmt(profiles)} people`));
    } finally {
      await client.end();
    }
    log(`seeded ${fmt(profiles)} profiles in schema ${schema} in ${fmt((Date.now() - started) / 1000, 1)} s`);
  } else {
    log(`reusing schema ${schema}: ${fmt(seeded)} profiles`);
  }

  const reports = createReportsStore(db);
  // The first fold after a seed (or an upgrade to migration 010) derives the rollups from every record.
  const building = performance.now();
  const built = await reports.fold();
  log(`first fold (${built.rebuilt ? 'rebuild of the rollups' : 'incremental'}): ${fmt((performance.now() - building) / 1000, 1)} s`);
  const asOf = new Date().toISOString();
  const year = { from: '2024-01-01T00:00:00Z', to: '2025-01-01T00:00:00Z' };
  const cases: [string, () => Promise<unknown>][] = [
    ['overview', () => reports.overview()],
    ['sources', () => reports.sources()],
    ['interactions, a year by day', () => reports.interactions({ ...year, interval: 'day' })],
    ['interactions, a year by month, channel=order', () => reports.interactions({ ...year, interval: 'month', channel: 'order' })],
    ['interactions, a month by day', () => reports.interactions({ from: '2024-06-01T00:00:00Z', to: '2024-07-01T00:00:00Z', interval: 'day' })],
    ['customers sort=value limit=50', () => reports.customers({ sort: 'value', order: 'desc', limit: 50, asOf })],
    ['customers sort=value currency=RUB limit=50', () => reports.customers({ sort: 'value', order: 'desc', currency: 'RUB', limit: 50, asOf })],
    ['customers sort=recency limit=50', () => reports.customers({ sort: 'recency', order: 'asc', limit: 50, asOf })],
    ['new-vs-returning, a year by month', () => reports.newVsReturning({ ...year, interval: 'month' })],
    ['new-vs-returning, a month by week', () => reports.newVsReturning({ from: '2024-06-01T00:00:00Z', to: '2024-07-01T00:00:00Z', interval: 'week' })],
    // Ranges that start and end inside a period (as the default "last 12 months" does): the clipped ends are read apart.
    ['interactions, ~6 months by week, unaligned', () => reports.interactions({ from: '2024-03-10T12:00:00Z', to: '2024-09-10T12:00:00Z', interval: 'week' })],
    ['new-vs-returning, ~9 months by month, unaligned', () => reports.newVsReturning({ from: '2024-02-15T13:00:00Z', to: '2024-11-20T08:00:00Z', interval: 'month' })],
  ];
  const rows: string[][] = [];
  for (const [name, run] of cases) {
    await run();
    const times: number[] = [];
    for (let i = 0; i < runs; i += 1) {
      const started = performance.now();
      await run();
      times.push(performance.now() - started);
    }
    rows.push([name, fmt(median(times), 0), fmt(Math.min(...times), 0), fmt(Math.max(...times), 0)]);
    log(`  ${name}: ${fmt(median(times), 0)} ms`);
  }
  log(`\nreports on ${fmt(profiles)} profiles (PostgreSQL), ${runs} runs each, ms:`);
  log(table(['report', 'median', 'min', 'max'], rows));

  // What a fold costs per changed profile: mark n random profiles changed, as the resolver would, and fold them in.
  const folds: string[][] = [];
  for (const n of [1000, 10_000]) {
    await db.query('UPDATE profiles SET updated_at = now() WHERE id IN (SELECT id FROM profiles TABLESAMPLE SYSTEM (5) LIMIT $1)', [n]);
    const started = performance.now();
    const folded = await reports.fold();
    folds.push([fmt(folded.profiles), fmt(performance.now() - started, 0)]);
  }
  log(`\nfolding changed profiles into the rollups, ms:`);
  log(table(['profiles', 'ms'], folds));

  // The scheduled inactive alert rule reads the rollups' last interactions: every seeded person is
  // quiet (their interactions are in 2024), so each check fires its limit of 1,000.
  const checks: number[] = [];
  for (let i = 0; i <= runs; i += 1) {
    const started = performance.now();
    await runScheduledAlerts(db, [{ name: 'bench-dormant', kind: 'inactive', days: 30 }], reports.fold);
    checks.push(performance.now() - started);
  }
  log(`\ninactive alert check (days 30, 1,000 alerts per check): first ${fmt(checks[0] ?? 0, 0)} ms, then median ${fmt(median(checks.slice(1)), 0)} ms`);
} finally {
  await db.close();
  if (!args.keep && !args.schema) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
}
