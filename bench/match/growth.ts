// `npm run bench:match -- --growth`: issue #5's scale target, "records/s with 500k profiles in the
// store is at least 80% of that with 5k". Each store is seeded with synthetic people (people.ts)
// through the hub's own store code, then the same messy records are posted through the API and
// timed; the whole store is scored too, so a matcher that gets slower or worse with size shows.
import { writeFileSync } from 'node:fs';
import type { HubConfig } from '../../src/core/config/config.schema.js';
import type { ReceivedRecord } from '../../src/core/record.schema.js';
import type { StoreKind } from '../../test/support/env.js';
import { createTestDb } from '../../test/support/hub.js';
import { fmt, median, table } from '../stats.js';
import { recordKey, startBenchHub, type BenchHub } from './hub.js';
import { cleanRecord, messyRecords } from './people.js';
import { seedPeopleSql, vacuumSchema } from './seed-sql.js';
import { scorePairs, type Assignment, type PairScore } from './score.js';

const SEED_SOURCE = 'seed';
const SEED_BATCH = 1000;
/** Seed transactions in flight: the people are distinct, so they never wait on each other's locks. */
const SEED_LANES = 3;
const TARGET_RATIO = 0.8;
/** Untimed records posted first, so the timed runs do not pay for cold caches and JIT. */
const WARMUP_RECORDS = 1000;

export type GrowthOptions = {
  store: StoreKind;
  config: HubConfig;
  /** `store`: through the resolver's own code (default, exact); `sql`: bulk rows (seed-sql.ts, fast). */
  seed: 'store' | 'sql';
  small: number;
  large: number;
  records: number;
  runs: number;
  out: string;
  logLevel: string;
  log: (line: string) => void;
};

type GrowthResult = { people: number; seedSeconds: number; recordsPerSecond: number; runs: number[]; score: PairScore };

/**
 * Writes people 0..count-1 as contacts of source `seed`, through the same store function the
 * ingest worker calls (so every table the resolver keeps, such as a matcher's blocking keys, is
 * filled as in production), without the queue: the seed is not what is timed.
 */
async function seedThroughStore(bench: BenchHub, count: number, onProgress: (done: number) => void): Promise<void> {
  const receivedAt = new Date().toISOString();
  let next = 0;
  let done = 0;
  async function lane(): Promise<void> {
    for (;;) {
      const from = next;
      if (from >= count) return;
      next = Math.min(count, from + SEED_BATCH);
      const batch: ReceivedRecord[] = [];
      for (let k = from; k < next; k += 1) batch.push({ ...cleanRecord(SEED_SOURCE, k), receivedAt });
      await bench.hub.store.resolveBatch(batch, 'seed');
      done += batch.length;
      onProgress(done);
    }
  }
  await Promise.all(Array.from({ length: SEED_LANES }, lane));
}

type GrowthStore = { label: string; people: number; bench: BenchHub; seedSeconds: number; rates: number[]; truth: Map<string, string>; stored: number };

async function seededStore(o: GrowthOptions, label: string, people: number): Promise<GrowthStore> {
  const fresh = await createTestDb(o.store);
  const bench = await startBenchHub(`growth-${label}`, { config: o.config, fresh, logLevel: o.logLevel });
  try {
    const t0 = performance.now();
    let reported = 0;
    const progress = (done: number) => {
      if (done - reported >= 50_000 || done === people) {
        reported = done;
        o.log(`  ${label}: seeded ${fmt(done)} / ${fmt(people)} people`);
      }
    };
    if (o.seed === 'sql') await seedPeopleSql(bench.db, o.config, SEED_SOURCE, people, progress);
    else await seedThroughStore(bench, people, progress);
    await vacuumSchema(bench.db);
    const seedSeconds = (performance.now() - t0) / 1000;
    o.log(`  ${label}: seed took ${seedSeconds.toFixed(1)} s`);
    const store: GrowthStore = { label, people, bench, seedSeconds, rates: [], truth: new Map(), stored: people };
    await ingest(store, messyRecords('warmup', WARMUP_RECORDS, o.small, 99));
    return store;
  } catch (err) {
    await bench.close();
    throw err;
  }
}

/** Posts records and waits until they are stored; returns the failed jobs. */
async function ingest(s: GrowthStore, messy: ReturnType<typeof messyRecords>): Promise<number> {
  for (const m of messy) s.truth.set(recordKey(m.record.source, m.record.sourceId), String(m.person));
  await s.bench.post(messy.map((m) => m.record));
  s.stored += messy.length;
  return (await s.bench.stored(s.stored)).failedJobs;
}

async function ingestRun(o: GrowthOptions, s: GrowthStore, run: number): Promise<void> {
  // Same people, same mess, every run and every store size; a new source so they are new records.
  const messy = messyRecords(`growth-${run}`, o.records, o.small, 7);
  const t0 = performance.now();
  const failedJobs = await ingest(s, messy);
  const rate = o.records / ((performance.now() - t0) / 1000);
  s.rates.push(rate);
  o.log(`  ${s.label}: run ${run}/${o.runs}: ${fmt(rate)} records/s${failedJobs > 0 ? ` (WARNING: ${failedJobs} failed jobs)` : ''}`);
}

async function summarize(s: GrowthStore): Promise<GrowthResult> {
  const assignments: Assignment[] = [];
  for (const [key, profile] of await s.bench.profiles()) {
    const [source, sourceId] = key.split('\u0000') as [string, string];
    assignments.push({ predicted: profile, truth: source === SEED_SOURCE ? sourceId : (s.truth.get(key) ?? `unknown:${key}`) });
  }
  return { people: s.people, seedSeconds: s.seedSeconds, recordsPerSecond: median(s.rates), runs: s.rates, score: scorePairs(assignments) };
}

export async function growthBenchmark(o: GrowthOptions): Promise<void> {
  o.log(`growth: ${fmt(o.records)} messy records into ${fmt(o.small)} vs ${fmt(o.large)} people (${o.store}, seeded through the ${o.seed}), runs ${o.runs}`);
  const stores: GrowthStore[] = [];
  let small: GrowthResult;
  let large: GrowthResult;
  try {
    stores.push(await seededStore(o, 'small', o.small));
    stores.push(await seededStore(o, 'large', o.large));
    // Both stores are up at once and their runs alternate, so a change in the machine's load
    // (shared cores) weighs on both sides alike.
    for (let run = 1; run <= o.runs; run += 1) for (const s of stores) await ingestRun(o, s, run);
    [small, large] = (await Promise.all(stores.map(summarize))) as [GrowthResult, GrowthResult];
  } finally {
    for (const s of stores) await s.bench.close();
  }
  const ratio = large.recordsPerSecond / small.recordsPerSecond;
  const row = (r: GrowthResult) => [fmt(r.people), `${r.seedSeconds.toFixed(0)} s`, fmt(r.recordsPerSecond), fmt(r.score.clusters), r.score.precision.toFixed(4), r.score.recall.toFixed(4), r.score.f1.toFixed(4)];
  process.stdout.write(
    `\nGrowth (${o.store}): ${fmt(o.records)} messy records (half of them people already stored)\n` +
      `${table(['people in store', 'seed', 'records/s', 'profiles after', 'P', 'R', 'F1'], [row(small), row(large)])}\n` +
      `ratio large/small ${ratio.toFixed(2)} (target ≥ ${TARGET_RATIO}): ${ratio >= TARGET_RATIO ? 'yes' : 'NO'}\n`,
  );
  writeFileSync(o.out, `${JSON.stringify({ mode: 'growth', store: o.store, seed: o.seed, at: new Date().toISOString(), records: o.records, small, large, ratio, targetRatio: TARGET_RATIO, met: ratio >= TARGET_RATIO }, null, 2)}\n`);
  o.log(`wrote ${o.out}`);
}
