// `npm run bench`: end-to-end figures of crm-hub against real Redis and PostgreSQL (and the
// embedded PGlite store), beside the bare tools it is built on, measured in the same run:
//   baseline  bare BullMQ, one no-op job per record: add+process and drain-only jobs/s
//   ingest    N records through POST /v1/records (batches of 1000) until stored: records/s, the
//             ratio to the baseline, peak RSS of the hub; received→stored latency under a steady load
//   growth    records/s with a small vs a large store already there (seeded in SQL)
//   reads     GET /v1/profiles/{id} and ?email= vs a bare Fastify + pg route, with autocannon
//   workers   role api + 1 worker process vs api + 2 worker processes
// Every hub runs in its own child process (hub-process.ts) on its own PostgreSQL schema (or PGlite
// directory) and Redis prefix, dropped afterwards. Figures are medians of --runs runs. It prints
// figures and targets; it never fails on time.
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Job, Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { migrate } from '../src/core/store/migrate.js';
import { createReportsStore } from '../src/core/reports/reports.store.js';
import { createPostgresDb } from '../src/core/store/postgres.db.js';
import type { IngestJobData } from '../src/core/pipeline/ingest.queue.js';
import { DATABASE_URL, REDIS_URL } from '../test/support/env.js';
import { batchBodies, generateRecords, person, prng, seededProfileId } from './data.js';
import { seedPeople } from './seed.js';
import { fmt, fmtRatio, mb, median, table, weightedPercentile } from './stats.js';
import type { HubMessage, HubStats } from './hub-process.js';
import type { BaselineMessage } from './bullmq-process.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(BENCH_DIR, '..');
const API_KEY = `bench-${randomBytes(8).toString('hex')}`;
const RUN_ID = randomBytes(3).toString('hex');

// ---------------------------------------------------------------- options

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string', default: '3' },
    out: { type: 'string', default: 'bench-results.json' },
    records: { type: 'string' },
    'pglite-records': { type: 'string' },
    profiles: { type: 'string' },
    'small-profiles': { type: 'string' },
    'growth-records': { type: 'string' },
    'workers-records': { type: 'string' },
    'latency-seconds': { type: 'string' },
    'latency-rate': { type: 'string', default: '1000' },
    'latency-batch': { type: 'string', default: '100' },
    'reads-seconds': { type: 'string' },
    connections: { type: 'string', default: '10' },
    'post-concurrency': { type: 'string', default: '4' },
    concurrency: { type: 'string' },
    'transaction-size': { type: 'string' },
    stores: { type: 'string', default: 'postgres,pglite' },
    only: { type: 'string', default: 'baseline,ingest,growth,reads,workers' },
    'log-level': { type: 'string', default: 'warn' },
    'hub-node-flags': { type: 'string', default: '' },
    help: { type: 'boolean', default: false },
  },
  allowPositionals: false,
});

if (args.help) {
  process.stdout.write(`npm run bench -- [options]
  --quick                 N=20k, growth 10k vs 100k, reads at 100k, shorter phases
  --runs 3                repetitions of each measurement (medians are reported)
  --out bench-results.json
  --records N             records for ingest and baseline (100000; quick 20000)
  --pglite-records N      records for the embedded store's ingest (20000; quick 10000)
  --profiles P            large store for growth and reads (1000000; quick 100000)
  --small-profiles P      small store for growth (10000)
  --growth-records M      fresh records ingested per growth run (10000; half of their people already stored)
  --workers-records M     records per api+workers run (30000; quick 20000)
  --latency-seconds S     steady-load phase (15; quick 10) at --latency-rate 1000 rec/s in --latency-batch 100
  --reads-seconds S       autocannon duration per target (10; quick 5), --connections 10
  --post-concurrency 4    POSTs in flight while ingesting
  --concurrency C         hub pipeline.concurrency (default: the config's default)
  --transaction-size T    hub pipeline.transactionSize (default: the config's default)
  --stores postgres,pglite
  --only baseline,ingest,growth,reads,workers
  --log-level warn        the hub's LOG_LEVEL
  --hub-node-flags=".."  extra Node flags for the hub processes, e.g. --hub-node-flags="--cpu-prof --cpu-prof-dir=/tmp/prof"
`);
  process.exit(0);
}

function int(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value.replace(/_/g, ''));
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got "${value}"`);
  return n;
}

const quick = args.quick;
const opts = {
  quick,
  runs: int('runs', args.runs, 3),
  records: int('records', args.records, quick ? 20_000 : 100_000),
  pgliteRecords: int('pglite-records', args['pglite-records'], quick ? 10_000 : 20_000),
  largeProfiles: int('profiles', args.profiles, quick ? 100_000 : 1_000_000),
  smallProfiles: int('small-profiles', args['small-profiles'], 10_000),
  growthRecords: int('growth-records', args['growth-records'], 10_000),
  workersRecords: int('workers-records', args['workers-records'], quick ? 20_000 : 30_000),
  latencySeconds: int('latency-seconds', args['latency-seconds'], quick ? 10 : 15),
  latencyRate: int('latency-rate', args['latency-rate'], 1000),
  latencyBatch: int('latency-batch', args['latency-batch'], 100),
  readsSeconds: int('reads-seconds', args['reads-seconds'], quick ? 5 : 10),
  connections: int('connections', args.connections, 10),
  postConcurrency: int('post-concurrency', args['post-concurrency'], 4),
  concurrency: args.concurrency === undefined ? undefined : int('concurrency', args.concurrency, 16),
  transactionSize: args['transaction-size'] === undefined ? undefined : int('transaction-size', args['transaction-size'], 1000),
  stores: args.stores.split(',').map((s) => s.trim()) as StoreKind[],
  only: new Set(args.only.split(',').map((s) => s.trim())),
  logLevel: args['log-level'],
  out: resolve(args.out),
};
for (const s of opts.stores) if (s !== 'postgres' && s !== 'pglite') throw new Error(`--stores: unknown store ${s}`);
const BATCH = 1000;

// ---------------------------------------------------------------- bookkeeping

type StoreKind = 'postgres' | 'pglite';
type Row = { scenario: string; store: string; figure: string; value: string; baseline: string; ratio: number | null; target: string; met: boolean | null };

const results: Record<string, unknown> = {};
const errors: Record<string, string> = {};
const rows: Row[] = [];
const parts: { part: string; seconds: number; loadavg: number[] }[] = [];
const logDir = mkdtempSync(join(os.tmpdir(), 'crm-hub-bench-'));
const logPath = join(logDir, 'children.log');
const logFd = openSync(logPath, 'a');
const children = new Set<ChildProcess>();
const schemas = new Set<string>();
const prefixes = new Set<string>();
const dirs = new Set<string>();
const admin = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
admin.on('error', () => undefined);
const monitorRedis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
const startedAt = Date.now();

function log(line: string): void {
  const t = ((Date.now() - startedAt) / 1000).toFixed(0).padStart(5);
  process.stderr.write(`[${t}s] ${line}\n`);
}

async function timed<T>(part: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    const seconds = (performance.now() - t0) / 1000;
    const loadavg = os.loadavg().map((l) => Math.round(l * 100) / 100);
    const entry = parts.find((p) => p.part === part);
    if (entry) {
      entry.seconds += seconds;
      entry.loadavg = loadavg;
    } else parts.push({ part, seconds, loadavg });
    log(`${part}: ${seconds.toFixed(1)} s (load average ${loadavg.join(' ')})`);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- child processes

type Child<M> = { proc: ChildProcess; ready: M };

/** The hub's heap limit as `npm start` and the Docker image set it (package.json, Dockerfile). */
const HUB_HEAP = `--max-old-space-size=${process.env['HUB_MAX_HEAP_MB'] ?? '512'}`;
const HUB_FLAGS = [HUB_HEAP, ...(args['hub-node-flags'] ?? '').split(' ').filter((flag) => flag !== '')];

async function startChild<M extends { type: string }>(name: string, script: string, env: Record<string, string>, nodeFlags: string[] = []): Promise<Child<M>> {
  const proc = fork(join(BENCH_DIR, script), [], {
    cwd: ROOT,
    execArgv: ['--import', 'tsx', ...nodeFlags],
    env: { ...process.env, LOG_LEVEL: opts.logLevel, ...env },
    stdio: ['ignore', logFd, logFd, 'ipc'],
  });
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  const ready = await new Promise<M>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} was not ready within 120 s (see ${logPath})`)), 120_000);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}) before it was ready (see ${logPath})`));
    };
    proc.once('exit', onExit);
    proc.on('message', function onMessage(message: M) {
      if (message.type !== 'ready' && message.type !== 'error') return;
      clearTimeout(timer);
      proc.off('message', onMessage);
      proc.off('exit', onExit);
      if (message.type === 'ready') resolvePromise(message);
      else reject(new Error(`${name}: ${(message as unknown as { message: string }).message}`));
    });
  });
  return { proc, ready };
}

function ask<T extends { type: string }>(proc: ChildProcess, request: object, type: T['type'], timeoutMs = 600_000): Promise<T> {
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${type} answer within ${timeoutMs} ms`)), timeoutMs);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${code}) while waiting for ${type} (see ${logPath})`));
    };
    proc.once('exit', onExit);
    proc.on('message', function onMessage(message: { type: string; message?: string }) {
      if (message.type !== type && message.type !== 'error') return;
      clearTimeout(timer);
      proc.off('message', onMessage);
      proc.off('exit', onExit);
      if (message.type === 'error') reject(new Error(message.message));
      else resolvePromise(message as unknown as T);
    });
    proc.send(request);
  });
}

async function stopChild(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  if (proc.connected) proc.send({ type: 'stop' });
  else proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

// ---------------------------------------------------------------- stores, prefixes

type Store = { kind: StoreKind; schema: string | null; env: Record<string, string> };

async function newStore(kind: StoreKind, label: string): Promise<Store> {
  if (kind === 'pglite') {
    const dir = mkdtempSync(join(os.tmpdir(), `crm-hub-bench-${label}-`));
    dirs.add(dir);
    return { kind, schema: null, env: { BENCH_STORE: 'pglite', BENCH_PGLITE_DIR: dir } };
  }
  const schema = `bench_${RUN_ID}_${label.replace(/[^a-z0-9]/g, '_')}_${randomBytes(3).toString('hex')}`;
  await admin.query(`CREATE SCHEMA ${schema}`);
  schemas.add(schema);
  return { kind, schema, env: { BENCH_STORE: 'postgres', BENCH_SCHEMA: schema } };
}

async function dropStore(store: Store): Promise<void> {
  if (store.schema) {
    await admin.query(`DROP SCHEMA IF EXISTS ${store.schema} CASCADE`);
    schemas.delete(store.schema);
  } else if (store.env['BENCH_PGLITE_DIR']) {
    rmSync(store.env['BENCH_PGLITE_DIR'], { recursive: true, force: true });
    dirs.delete(store.env['BENCH_PGLITE_DIR']);
  }
}

function newPrefix(label: string): string {
  const prefix = `bench-${RUN_ID}-${label}-${randomBytes(3).toString('hex')}`;
  prefixes.add(prefix);
  return prefix;
}

async function dropPrefix(prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await monitorRedis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await monitorRedis.del(...keys);
  } while (cursor !== '0');
  prefixes.delete(prefix);
}

/** Creates a PostgreSQL schema with the hub's tables and `people` seeded people. */
async function seededStore(label: string, people: number): Promise<Store> {
  const store = await newStore('postgres', label);
  const db = createPostgresDb({ connectionString: DATABASE_URL, schema: store.schema ?? '', max: 1 });
  await migrate(db);
  await db.close();
  const client = new pg.Client({ connectionString: DATABASE_URL, options: `-c search_path=${store.schema}` });
  await client.connect();
  try {
    await seedPeople(client, people, (done) => {
      if (people >= 250_000) log(`  seeded ${fmt(done)} / ${fmt(people)} people`);
    });
  } finally {
    await client.end();
  }
  // Build the report rollups now: the hubs' first fold would otherwise rebuild them during the measurement.
  const folding = createPostgresDb({ connectionString: DATABASE_URL, schema: store.schema ?? '', max: 1 });
  try {
    await createReportsStore(folding).fold();
  } finally {
    await folding.close();
  }
  return store;
}

// ---------------------------------------------------------------- hubs

type Hubs = { port: number; api: ChildProcess; workers: ChildProcess[]; prefix: string; queue: Queue<IngestJobData> };

async function startHubs(store: Store, prefix: string, layout: { api: 'all' | 'api'; workers: number }): Promise<Hubs> {
  const common = { ...store.env, BENCH_PREFIX: prefix, BENCH_KEY: API_KEY, ...(opts.concurrency ? { BENCH_CONCURRENCY: String(opts.concurrency) } : {}), ...(opts.transactionSize ? { BENCH_TRANSACTION_SIZE: String(opts.transactionSize) } : {}) };
  const api = await startChild<HubMessage>('hub', 'hub-process.ts', { ...common, BENCH_ROLE: layout.api }, HUB_FLAGS);
  const workers: ChildProcess[] = [];
  for (let i = 0; i < layout.workers; i += 1) workers.push((await startChild<HubMessage>(`worker ${i + 1}`, 'hub-process.ts', { ...common, BENCH_ROLE: 'worker' }, HUB_FLAGS)).proc);
  const port = api.ready.type === 'ready' ? api.ready.port : null;
  if (!port) throw new Error('the hub did not report a port');
  return { port, api: api.proc, workers, prefix, queue: new Queue<IngestJobData>('ingest', { connection: monitorRedis, prefix }) };
}

async function stopHubs(hubs: Hubs): Promise<void> {
  await hubs.queue.close();
  await Promise.all([hubs.api, ...hubs.workers].map(stopChild));
}

function hubStats(proc: ChildProcess): Promise<HubStats> {
  return ask<HubStats>(proc, { type: 'stats' }, 'stats');
}

let postRetries = 0;

/** POSTs a batch; a connection dropped under load is retried (records are idempotent by source and sourceId). */
async function post(port: number, body: string): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    let res: Response;
    try {
      res = await fetch(`http://127.0.0.1:${port}/v1/records`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        body,
      });
    } catch (err) {
      if (attempt >= 3) throw err;
      postRetries += 1;
      log(`  WARNING: POST /v1/records failed (${String((err as Error & { cause?: unknown }).cause ?? err)}); sending again`);
      await sleep(200);
      continue;
    }
    if (res.status !== 202) throw new Error(`POST /v1/records answered ${res.status}: ${(await res.text()).slice(0, 500)}`);
    await res.arrayBuffer();
    return;
  }
}

/**
 * Seconds a report request takes right after an ingest: it first folds what the scheduled folds
 * left (they leave the profiles changed in the last reports.foldSettleMs), so this is the part of
 * the ingest's report upkeep that the ingest's timing does not contain.
 */
async function foldAfterIngest(port: number): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}/v1/reports/overview`, { headers: { authorization: `Bearer ${API_KEY}` } });
  if (res.status !== 200) throw new Error(`GET /v1/reports/overview answered ${res.status}: ${(await res.text()).slice(0, 500)}`);
  await res.arrayBuffer();
  return (performance.now() - t0) / 1000;
}

async function postAll(port: number, bodies: readonly string[], concurrency: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, bodies.length) }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++] as string;
        await post(port, body);
      }
    }),
  );
}

async function drained(queue: Queue): Promise<void> {
  for (;;) {
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
    if (Object.values(counts).every((n) => n === 0)) return;
    await sleep(50);
  }
}

/** Posts every body, then waits until the queue holds nothing: every record is in the store. */
async function ingestTimed(hubs: Hubs, bodies: readonly string[], records: number, statsFrom: ChildProcess | null) {
  const before = statsFrom ? await hubStats(statsFrom) : null;
  const t0 = performance.now();
  await postAll(hubs.port, bodies, opts.postConcurrency);
  const postSeconds = (performance.now() - t0) / 1000;
  await drained(hubs.queue);
  const seconds = (performance.now() - t0) / 1000;
  const failed = (await hubs.queue.getJobCounts('failed'))['failed'] ?? 0;
  const after = statsFrom ? await hubStats(statsFrom) : null;
  const stored = before && after ? after.records - before.records : Number.NaN;
  if (failed > 0) log(`  WARNING: ${failed} jobs in the failed set (see ${logPath})`);
  if (before && stored !== records) log(`  WARNING: ${records} records sent, ${stored} new in the store`);
  // The hub's CPU per record (API and worker in one process) is steadier than records/s on a busy machine.
  const cpuMicros = before && after ? after.cpuUser + after.cpuSystem - before.cpuUser - before.cpuSystem : Number.NaN;
  return {
    records,
    seconds,
    postSeconds,
    recordsPerSecond: records / seconds,
    failedJobs: failed,
    stored,
    hubCpuMicrosPerRecord: cpuMicros / records,
    rssBeforeMb: before ? mb(before.rss) : Number.NaN,
    rssPeakMb: after ? mb(after.rssPeak) : Number.NaN,
  };
}

/** Posts `rate` records/s in batches for `seconds`; received→stored latency of every record from the queue's completed events. */
async function steadyLatency(hubs: Hubs, tag: string, seed: number) {
  const total = opts.latencyRate * opts.latencySeconds;
  const bodies = batchBodies(generateRecords({ count: total, tag, seed, personAt: (i) => 20_000_000 + seed * 100_000 + i }), opts.latencyBatch);
  const eventsConnection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const events = new QueueEvents('ingest', { connection: eventsConnection, prefix: hubs.prefix });
  await events.waitUntilReady();
  const samples: { value: number; weight: number }[] = [];
  const lookups: Promise<void>[] = [];
  events.on('completed', ({ jobId }, id) => {
    const completedAt = Number(id.split('-')[0]);
    lookups.push(
      Job.fromId<IngestJobData>(hubs.queue, jobId).then((job) => {
        const first = job?.data.records[0];
        if (job && first) samples.push({ value: completedAt - Date.parse(first.receivedAt), weight: job.data.records.length });
      }),
    );
  });
  const interval = (1000 * opts.latencyBatch) / opts.latencyRate;
  const t0 = performance.now();
  const posts: Promise<void>[] = [];
  for (let i = 0; i < bodies.length; i += 1) {
    const wait = t0 + i * interval - performance.now();
    if (wait > 0) await sleep(wait);
    posts.push(post(hubs.port, bodies[i] as string));
  }
  await Promise.all(posts);
  await drained(hubs.queue);
  await sleep(200);
  await Promise.all(lookups);
  await events.close();
  eventsConnection.disconnect();
  const measured = samples.reduce((s, x) => s + x.weight, 0);
  return { records: total, measured, p50: weightedPercentile(samples, 50), p99: weightedPercentile(samples, 99) };
}

// ---------------------------------------------------------------- scenarios

type BaselineChild = Child<BaselineMessage>;

async function baselineRun(child: BaselineChild, run: number): Promise<{ add: number; drain: number }> {
  const rates = { add: 0, drain: 0 };
  for (const mode of ['add+process', 'drain'] as const) {
    const r = await ask<Extract<BaselineMessage, { type: 'result' }>>(child.proc, { type: 'run', mode, n: opts.records, run }, 'result');
    rates[mode === 'drain' ? 'drain' : 'add'] = r.n / r.seconds;
    log(`  baseline run ${run + 1} ${mode}: ${fmt(r.n / r.seconds)} jobs/s`);
  }
  return rates;
}

function summarizeBaseline(runs: { add: number; drain: number }[]) {
  return { jobs: opts.records, addProcessPerSecond: median(runs.map((r) => r.add)), drainPerSecond: median(runs.map((r) => r.drain)), runs };
}

type IngestRun = Awaited<ReturnType<typeof ingestTimed>> & { foldSeconds: number; latency: Awaited<ReturnType<typeof steadyLatency>> };

async function ingestRun(kind: StoreKind, bodies: readonly string[], records: number, run: number): Promise<IngestRun> {
  const store = await newStore(kind, `ingest_${kind}`);
  const prefix = newPrefix(`ingest-${kind}`);
  const hubs = await startHubs(store, prefix, { api: 'all', workers: 0 });
  try {
    const r = { ...(await ingestTimed(hubs, bodies, records, hubs.api)), foldSeconds: await foldAfterIngest(hubs.port) };
    log(
      `  ingest ${kind} run ${run + 1}: ${fmt(r.recordsPerSecond)} records/s (${r.seconds.toFixed(1)} s, posted in ${r.postSeconds.toFixed(1)} s), hub CPU ${fmt(r.hubCpuMicrosPerRecord)} µs/record, peak RSS ${fmt(r.rssPeakMb)} MB (${fmt(r.rssBeforeMb)} MB before); then a report request's fold ${r.foldSeconds.toFixed(1)} s`,
    );
    const latency = await steadyLatency(hubs, `lat${run}`, run + 1);
    log(`  latency ${kind} run ${run + 1} at ${opts.latencyRate} rec/s: p50 ${fmt(latency.p50)} ms, p99 ${fmt(latency.p99)} ms (${fmt(latency.measured)} records)`);
    return { ...r, latency };
  } finally {
    await stopHubs(hubs);
    await dropStore(store);
    await dropPrefix(prefix);
  }
}

function summarizeIngest(records: number, interactions: number, runs: IngestRun[]) {
  return {
    records,
    people: Math.round(records / 2.5),
    interactions,
    recordsPerSecond: median(runs.map((r) => r.recordsPerSecond)),
    hubCpuMicrosPerRecord: median(runs.map((r) => r.hubCpuMicrosPerRecord)),
    rssPeakMb: median(runs.map((r) => r.rssPeakMb)),
    rssPeakMaxMb: Math.max(...runs.map((r) => r.rssPeakMb)),
    foldSeconds: median(runs.map((r) => r.foldSeconds)),
    latencyP50: median(runs.map((r) => r.latency.p50)),
    latencyP99: median(runs.map((r) => r.latency.p99)),
    runs,
  };
}

/** Baseline and ingest runs interleaved (baseline, PostgreSQL, PGlite; again...), so that a change in the machine's load hits both sides of the ratio alike. */
async function baselineAndIngest(): Promise<void> {
  const doBaseline = opts.only.has('baseline');
  const stores = opts.only.has('ingest') ? opts.stores : [];
  const datasets = stores.map((kind) => {
    const records = generateRecords({ count: kind === 'pglite' ? opts.pgliteRecords : opts.records, tag: 'ingest', seed: 1 });
    return { kind, records: records.length, interactions: records.filter((r) => r.kind === 'interaction').length, bodies: batchBodies(records, BATCH) };
  });
  const child = doBaseline ? await startChild<BaselineMessage>('bullmq baseline', 'bullmq-process.ts', { BENCH_PREFIX: newPrefix('baseline') }) : null;
  const baselineRuns: { add: number; drain: number }[] = [];
  const ingestRuns: Record<StoreKind, IngestRun[]> = { postgres: [], pglite: [] };
  try {
    for (let run = 0; run < opts.runs; run += 1) {
      if (child) baselineRuns.push(await timed('baseline (bare BullMQ)', () => baselineRun(child, run)));
      for (const d of datasets) ingestRuns[d.kind].push(await timed(`ingest + latency (${d.kind})`, () => ingestRun(d.kind, d.bodies, d.records, run)));
    }
  } finally {
    if (child) await stopChild(child.proc);
    // Runs that completed are reported even if a later one broke.
    if (baselineRuns.length > 0) results['baseline'] = summarizeBaseline(baselineRuns);
    for (const d of datasets) if (ingestRuns[d.kind].length > 0) results[`ingest_${d.kind}`] = summarizeIngest(d.records, d.interactions, ingestRuns[d.kind]);
  }
}

/** Fresh records for a growth run: half the people are already in the store (link and merge), half are new. */
function growthRecords(existing: number, run: number) {
  return generateRecords({
    count: opts.growthRecords,
    tag: `g${run}`,
    seed: 100 + run,
    personAt: (i, rand) => (i % 2 === 0 ? Math.floor(rand() * existing) : 50_000_000 + run * 1_000_000 + i),
  });
}

async function growthRun(store: Store, existing: number, run: number) {
  const prefix = newPrefix('growth');
  const hubs = await startHubs(store, prefix, { api: 'all', workers: 0 });
  try {
    const records = growthRecords(existing, run);
    return await ingestTimed(hubs, batchBodies(records, BATCH), records.length, hubs.api);
  } finally {
    await stopHubs(hubs);
    await dropPrefix(prefix);
  }
}

async function growthScenario(large: Store) {
  const small: number[] = [];
  const big: number[] = [];
  for (let run = 0; run < opts.runs; run += 1) {
    const smallStore = await seededStore('growth_small', opts.smallProfiles);
    try {
      const r = await growthRun(smallStore, opts.smallProfiles, run);
      small.push(r.recordsPerSecond);
      log(`  growth run ${run + 1} at ${fmt(opts.smallProfiles)} profiles: ${fmt(r.recordsPerSecond)} records/s`);
    } finally {
      await dropStore(smallStore);
    }
    const r = await growthRun(large, opts.largeProfiles, run);
    big.push(r.recordsPerSecond);
    log(`  growth run ${run + 1} at ${fmt(opts.largeProfiles)} profiles: ${fmt(r.recordsPerSecond)} records/s`);
  }
  return { records: opts.growthRecords, smallProfiles: opts.smallProfiles, largeProfiles: opts.largeProfiles, small: median(small), large: median(big), runs: { small, large: big } };
}

type Cannon = { rps: number; p50: number; p99: number; non2xx: number; errors: number };

async function cannon(port: number, path: () => string, auth: boolean, seconds: number): Promise<Cannon> {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: opts.connections,
    duration: seconds,
    headers: auth ? { authorization: `Bearer ${API_KEY}` } : {},
    requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, path: path() }) }],
  });
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors };
}

async function readsScenario(large: Store) {
  const prefix = newPrefix('reads');
  const hubs = await startHubs(large, prefix, { api: 'api', workers: 0 });
  const bare = await startChild<{ type: 'ready'; port: number }>('bare server', 'bare-server.ts', { BENCH_SCHEMA: large.schema ?? '' });
  const rand = prng(42);
  const k = () => Math.floor(rand() * opts.largeProfiles);
  const targets = {
    hubId: { port: hubs.port, auth: true, path: () => `/v1/profiles/${seededProfileId(k())}` },
    bareId: { port: bare.ready.port, auth: false, path: () => `/profiles/${seededProfileId(k())}` },
    hubEmail: { port: hubs.port, auth: true, path: () => `/v1/profiles?email=${encodeURIComponent(person(k()).email)}` },
    bareEmail: { port: bare.ready.port, auth: false, path: () => `/profiles?email=${encodeURIComponent(person(k()).email)}` },
    bareHello: { port: bare.ready.port, auth: false, path: () => '/hello' },
  };
  const runs: Record<keyof typeof targets, Cannon[]> = { hubId: [], bareId: [], hubEmail: [], bareEmail: [], bareHello: [] };
  try {
    for (const t of Object.values(targets)) await cannon(t.port, t.path, t.auth, 1); // warm-up: JIT, pools, caches
    for (let run = 0; run < opts.runs; run += 1) {
      for (const [name, t] of Object.entries(targets) as [keyof typeof targets, (typeof targets)[keyof typeof targets]][]) {
        const c = await cannon(t.port, t.path, t.auth, opts.readsSeconds);
        runs[name].push(c);
        log(`  reads run ${run + 1} ${name}: ${fmt(c.rps)} req/s, p50 ${c.p50} ms, p99 ${c.p99} ms${c.non2xx || c.errors ? `, ${c.non2xx} non-2xx, ${c.errors} errors` : ''}`);
      }
    }
  } finally {
    await stopHubs(hubs);
    await stopChild(bare.proc);
    await dropPrefix(prefix);
  }
  const summary = (list: Cannon[]) => ({
    rps: median(list.map((c) => c.rps)),
    p50: median(list.map((c) => c.p50)),
    p99: median(list.map((c) => c.p99)),
    non2xx: list.reduce((s, c) => s + c.non2xx, 0),
    errors: list.reduce((s, c) => s + c.errors, 0),
  });
  return {
    profiles: opts.largeProfiles,
    connections: opts.connections,
    seconds: opts.readsSeconds,
    hubId: summary(runs.hubId),
    bareId: summary(runs.bareId),
    hubEmail: summary(runs.hubEmail),
    bareEmail: summary(runs.bareEmail),
    bareHello: summary(runs.bareHello),
    runs,
  };
}

async function workersScenario() {
  const records = generateRecords({ count: opts.workersRecords, tag: 'workers', seed: 3 });
  const bodies = batchBodies(records, BATCH);
  const rates: Record<1 | 2, number[]> = { 1: [], 2: [] };
  for (let run = 0; run < opts.runs; run += 1) {
    for (const workers of [1, 2] as const) {
      const store = await newStore('postgres', `workers${workers}`);
      const prefix = newPrefix(`workers${workers}`);
      const hubs = await startHubs(store, prefix, { api: 'api', workers });
      try {
        const r = await ingestTimed(hubs, bodies, records.length, hubs.api);
        rates[workers].push(r.recordsPerSecond);
        log(`  workers run ${run + 1}, api + ${workers} worker process(es): ${fmt(r.recordsPerSecond)} records/s`);
      } finally {
        await stopHubs(hubs);
        await dropStore(store);
        await dropPrefix(prefix);
      }
    }
  }
  return { records: records.length, one: median(rates[1]), two: median(rates[2]), runs: rates };
}

// ---------------------------------------------------------------- main

async function cleanup(): Promise<void> {
  await Promise.all([...children].map((c) => stopChild(c).catch(() => undefined)));
  for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
  for (const prefix of prefixes) await dropPrefix(prefix).catch(() => undefined);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}

let interrupted = false;
process.once('SIGINT', () => {
  interrupted = true;
  log('interrupted: cleaning up');
  void cleanup().finally(() => process.exit(130));
});

async function main(): Promise<void> {
  const pgVersion = ((await admin.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0] ?? { v: '?' }).v;
  const redisInfo = await monitorRedis.info('server');
  const redisVersion = /redis_version:(\S+)/.exec(redisInfo)?.[1] ?? '?';
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? '?',
    memoryGb: Math.round(os.totalmem() / 1024 ** 3),
    loadavgStart: os.loadavg(),
    postgres: pgVersion,
    redis: redisVersion,
    options: { ...opts, only: [...opts.only] },
  };
  process.stdout.write(
    `crm-hub bench — node ${meta.node}, ${meta.cpus} cores (${meta.cpuModel}), ${meta.memoryGb} GB, PostgreSQL ${pgVersion}, Redis ${redisVersion}\n` +
      `load average at start: ${meta.loadavgStart.map((l) => l.toFixed(2)).join(' ')}; runs: ${opts.runs}${quick ? ' (quick)' : ''}; child logs: ${logPath}\n\n`,
  );
  results['meta'] = meta;
  const pgOn = opts.stores.includes('postgres');

  // A scenario that breaks is reported and the others still run.
  const attempt = async (name: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      const message = (err as Error).stack ?? String(err);
      errors[name] = message;
      log(`ERROR in ${name}: ${message}`);
    }
  };
  if (opts.only.has('baseline') || opts.only.has('ingest')) await attempt('baseline+ingest', baselineAndIngest);
  let large: Store | null = null;
  try {
    if (pgOn && (opts.only.has('growth') || opts.only.has('reads'))) {
      await attempt('seed', async () => {
        large = await timed(`seed ${fmt(opts.largeProfiles)} profiles (SQL)`, () => seededStore('large', opts.largeProfiles));
      });
    }
    const store = large as Store | null;
    if (store && opts.only.has('growth')) await attempt('growth', async () => void (results['growth'] = await timed('growth (postgres)', () => growthScenario(store))));
    if (store && opts.only.has('reads')) await attempt('reads', async () => void (results['reads'] = await timed('reads (postgres)', () => readsScenario(store))));
  } finally {
    const store = large as Store | null;
    if (store) await dropStore(store);
  }
  if (pgOn && opts.only.has('workers')) await attempt('workers', async () => void (results['workers'] = await timed('api + 1 vs 2 worker processes (postgres)', workersScenario)));
  results['errors'] = errors;
  results['loadavgEnd'] = os.loadavg();
  results['parts'] = parts;
  results['postRetries'] = postRetries;
  report();
}

function report(): void {
  const b = results['baseline'] as ReturnType<typeof summarizeBaseline> | undefined;
  if (b) {
    rows.push({ scenario: 'baseline', store: 'redis', figure: `bare BullMQ add+process, jobs/s (${fmt(b.jobs)} jobs)`, value: fmt(b.addProcessPerSecond), baseline: '', ratio: null, target: '', met: null });
    rows.push({ scenario: 'baseline', store: 'redis', figure: 'bare BullMQ drain only, jobs/s', value: fmt(b.drainPerSecond), baseline: '', ratio: null, target: '', met: null });
  }
  for (const kind of ['postgres', 'pglite'] as const) {
    const i = results[`ingest_${kind}`] as ReturnType<typeof summarizeIngest> | undefined;
    if (!i) continue;
    const ratio = b ? i.recordsPerSecond / b.addProcessPerSecond : null;
    const target = kind === 'postgres' ? '≥ 1.00×' : '';
    rows.push({ scenario: 'ingest', store: kind, figure: `records/s, ${fmt(i.records)} records end to end`, value: fmt(i.recordsPerSecond), baseline: b ? fmt(b.addProcessPerSecond) : '', ratio, target, met: kind === 'postgres' && ratio !== null ? ratio >= 1 : null });
    rows.push({ scenario: 'ingest', store: kind, figure: 'hub CPU µs per record (API + worker process)', value: fmt(i.hubCpuMicrosPerRecord), baseline: '', ratio: null, target: '', met: null });
    rows.push({ scenario: 'ingest', store: kind, figure: 'then a report request (folds what was left), s', value: i.foldSeconds.toFixed(1), baseline: '', ratio: null, target: '', met: null });
    rows.push({ scenario: 'ingest', store: kind, figure: `received→stored p50 / p99 ms at ${fmt(opts.latencyRate)} rec/s`, value: `${fmt(i.latencyP50)} / ${fmt(i.latencyP99)}`, baseline: '', ratio: null, target: '', met: null });
    rows.push({ scenario: 'memory', store: kind, figure: `hub peak RSS MB while ingesting ${fmt(i.records)}`, value: fmt(i.rssPeakMaxMb), baseline: '', ratio: null, target: '< 500 MB', met: i.rssPeakMaxMb < 500 });
  }
  const g = results['growth'] as Awaited<ReturnType<typeof growthScenario>> | undefined;
  if (g) {
    rows.push({ scenario: 'growth', store: 'postgres', figure: `records/s at ${fmt(g.smallProfiles)} profiles (${fmt(g.records)} fresh)`, value: fmt(g.small), baseline: '', ratio: null, target: '', met: null });
    const ratio = g.large / g.small;
    rows.push({ scenario: 'growth', store: 'postgres', figure: `records/s at ${fmt(g.largeProfiles)} profiles`, value: fmt(g.large), baseline: fmt(g.small), ratio, target: '≥ 0.80×', met: ratio >= 0.8 });
  }
  const r = results['reads'] as Awaited<ReturnType<typeof readsScenario>> | undefined;
  if (r) {
    for (const [label, hub, bare] of [
      ['GET /v1/profiles/{id}', r.hubId, r.bareId],
      ['GET /v1/profiles?email=', r.hubEmail, r.bareEmail],
    ] as const) {
      const rpsRatio = hub.rps / bare.rps;
      const p99Ratio = hub.p99 / bare.p99;
      rows.push({ scenario: 'reads', store: 'postgres', figure: `${label} req/s at ${fmt(r.profiles)} profiles`, value: fmt(hub.rps), baseline: fmt(bare.rps), ratio: rpsRatio, target: '≥ 0.70×', met: rpsRatio >= 0.7 });
      rows.push({ scenario: 'reads', store: 'postgres', figure: `${label} p50 / p99 ms`, value: `${fmt(hub.p50)} / ${fmt(hub.p99)}`, baseline: `${fmt(bare.p50)} / ${fmt(bare.p99)}`, ratio: p99Ratio, target: 'p99 ≤ 1.50×', met: p99Ratio <= 1.5 });
    }
    rows.push({ scenario: 'reads', store: '-', figure: 'bare fastify hello world req/s (context)', value: fmt(r.bareHello.rps), baseline: '', ratio: null, target: '', met: null });
  }
  const w = results['workers'] as Awaited<ReturnType<typeof workersScenario>> | undefined;
  if (w) {
    rows.push({ scenario: 'workers', store: 'postgres', figure: `api + 1 worker process, records/s (${fmt(w.records)})`, value: fmt(w.one), baseline: '', ratio: null, target: '', met: null });
    const ratio = w.two / w.one;
    rows.push({ scenario: 'workers', store: 'postgres', figure: 'api + 2 worker processes, records/s', value: fmt(w.two), baseline: fmt(w.one), ratio, target: `> 1.00× (${os.cpus().length} cores)`, met: ratio > 1 });
  }
  results['table'] = rows;
  const text = table(
    ['scenario', 'store', 'figure', 'value', 'baseline', 'ratio', 'target', 'met?'],
    rows.map((x) => [x.scenario, x.store, x.figure, x.value, x.baseline, fmtRatio(x.ratio), x.target, x.met === null ? '' : x.met ? 'yes' : 'NO']),
  );
  const loadEnd = (results['loadavgEnd'] as number[]).map((l) => l.toFixed(2)).join(' ');
  const took = parts.map((p) => `  ${p.part}: ${p.seconds.toFixed(0)} s (load average after: ${p.loadavg.join(' ')})`).join('\n');
  process.stdout.write(`${text}\n\nmedians of ${opts.runs} run(s); load average at end: ${loadEnd}; total ${((Date.now() - startedAt) / 1000).toFixed(0)} s\n${took}\n`);
  writeFileSync(opts.out, `${JSON.stringify(results, null, 2)}\n`);
  for (const [name, message] of Object.entries(errors)) process.stdout.write(`ERROR in ${name}: ${message.split('\n')[0]}\n`);
  process.stdout.write(`results: ${opts.out}\n`);
  if (Object.keys(errors).length > 0) process.exitCode = 1;
}

try {
  await main();
} catch (err) {
  if (!interrupted) process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n(child logs: ${logPath})\n`);
  process.exitCode = 1;
} finally {
  if (!interrupted) {
    await cleanup();
    await admin.end();
    monitorRedis.disconnect();
    closeSync(logFd);
    // The children's log is kept only if they said something (warnings, errors).
    if (statSync(logPath).size === 0) rmSync(logDir, { recursive: true, force: true });
    else process.stderr.write(`child processes logged to ${logPath}\n`);
  }
}
