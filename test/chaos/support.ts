// What the fault scenarios share: real hub processes on a fresh schema and queue prefix, a TCP
// proxy that can cut PostgreSQL off, a generated input, and the figures each scenario reports.
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { DATABASE_URL, REDIS_URL } from '../support/env.js';
import { dropRedisPrefix } from '../support/hub.js';
import { freePort, REPO_ROOT, spawnHub, type HubProcess } from '../support/process.js';

export const API_KEY = 'chaos-suite-key-7f3a';

/** What a scenario opened, undone last first by `cleanup()` (call it in afterEach). */
export function createLab() {
  const undo: (() => Promise<unknown>)[] = [];
  const defer = (step: () => Promise<unknown>) => void undo.push(step);
  const dir = mkdtempSync(join(tmpdir(), 'crm-hub-chaos-'));
  defer(async () => rmSync(dir, { recursive: true, force: true }));

  /** A fresh PostgreSQL schema; `url` puts a hub's tables in it, optionally through another port (a proxy). */
  async function freshSchema() {
    const schema = `chaos_${randomUUID().replace(/-/g, '')}`;
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    defer(() => admin.end());
    await admin.query(`CREATE SCHEMA ${schema}`);
    defer(() => admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
    const url = (port?: number) => {
      const u = new URL(DATABASE_URL);
      if (port !== undefined) {
        u.hostname = '127.0.0.1';
        u.port = String(port);
      }
      u.searchParams.set('options', `-c search_path=${schema}`);
      return u.toString();
    };
    return { schema, admin, url };
  }

  function queuePrefix(redisUrl = REDIS_URL): string {
    const prefix = `chaos-${randomUUID()}`;
    if (redisUrl === REDIS_URL) defer(() => dropRedisPrefix(prefix));
    return prefix;
  }

  /** A hub config file: fast retries, so that outages of seconds are ridden out within the test. */
  function configFile(pipeline: Record<string, number> = {}, rest: Record<string, unknown> = {}): string {
    const file = join(dir, `hub-${randomUUID()}.json`);
    writeFileSync(file, JSON.stringify({ ...rest, pipeline: { concurrency: 8, attempts: 12, backoffMs: 200, ...pipeline } }));
    return file;
  }

  type HubEnv = { databaseUrl: string; redisUrl?: string; prefix: string; config: string; port?: number };

  /** `npm start -- --role <role>` as its own process; killed (SIGKILL) at cleanup if still running. */
  async function start(role: 'api' | 'worker', env: HubEnv): Promise<HubProcess & { port: number }> {
    const port = env.port ?? (await freePort());
    const hub = spawnHub({
      args: ['--role', role],
      env: {
        HUB_API_KEY: API_KEY,
        DATABASE_URL: env.databaseUrl,
        REDIS_URL: env.redisUrl ?? REDIS_URL,
        HUB_QUEUE_PREFIX: env.prefix,
        HUB_CONFIG: env.config,
        HUB_DATA_DIR: join(dir, 'data'),
        PORT: String(port),
        LOG_LEVEL: 'info',
      },
    });
    defer(() => hub.kill());
    return Object.assign(hub, { port });
  }

  return {
    dir,
    defer,
    freshSchema,
    queuePrefix,
    configFile,
    start,
    async cleanup() {
      for (const step of undo.reverse()) await step().catch(() => undefined);
      undo.length = 0;
    },
  };
}

export type Lab = ReturnType<typeof createLab>;

/** The started line of a hub; fails with its output if it exits first. */
export async function started(hub: HubProcess, timeoutMs = 60_000): Promise<void> {
  await hub.waitForLog('crm-hub started', timeoutMs);
}

export type Answer = { status: number; type: string; body: string; ms: number };

/** One HTTP call with the suite's key; a call that takes longer than `timeoutMs` fails the test (a hang). */
export async function call(port: number, method: string, path: string, body?: unknown, timeoutMs = 10_000): Promise<Answer> {
  const t0 = Date.now();
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { authorization: `Bearer ${API_KEY}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text(), ms: Date.now() - t0 };
}

export type Rec = { source: string; sourceId: string; kind: 'contact' | 'interaction'; identifiers: { emails?: string[]; phones?: string[] }; traits?: Record<string, string>; interaction?: Record<string, unknown>; occurredAt?: string };

/**
 * A deterministic input of `count` records: about 40% contacts (a few people appear in two sources
 * with a shared e-mail or phone, so profiles merge) and 60% interactions on those people, Cyrillic
 * names included.
 */
export function makeRecords(count: number, tag: string): Rec[] {
  const people = Math.max(1, Math.floor(count * 0.3));
  const out: Rec[] = [];
  for (let i = 0; i < count; i += 1) {
    const person = (i * 7919) % people;
    const email = `p${person}.${tag}@example.ru`;
    const phone = `+7916${String(1_000_000 + person).slice(-7)}`;
    if (i % 5 < 2) {
      // Odd people are known to the ERP by phone only and to the shop by e-mail and phone: two records, one profile.
      const byPhone = person % 2 === 1 && i % 5 === 1;
      out.push({
        source: byPhone ? 'erp' : 'shop',
        sourceId: `${tag}-c-${i}`,
        kind: 'contact',
        identifiers: byPhone ? { phones: [phone] } : { emails: [email], phones: [phone] },
        traits: { firstName: person % 3 === 0 ? 'Иван' : 'Maria', lastName: `Петров-${person}` },
      });
    } else {
      out.push({
        source: 'tel',
        sourceId: `${tag}-i-${i}`,
        kind: 'interaction',
        identifiers: i % 2 === 0 ? { phones: [phone] } : { emails: [email] },
        occurredAt: new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString(),
        interaction: { channel: 'call', direction: 'inbound', durationSec: i % 300 },
      });
    }
  }
  return out;
}

/** Sends records in batches; a batch answered with anything but 202 is retried (a client resending after a 503). */
export async function sendAll(port: number, records: Rec[], batchSize = 500, parallel = 2): Promise<{ requests: number; retries: number }> {
  const batches: Rec[][] = [];
  for (let i = 0; i < records.length; i += batchSize) batches.push(records.slice(i, i + batchSize));
  let next = 0;
  let requests = 0;
  let retries = 0;
  async function lane() {
    while (next < batches.length) {
      const batch = batches[next++]!;
      for (;;) {
        requests += 1;
        const res = await call(port, 'POST', '/v1/records', { records: batch }, 30_000).catch(() => null);
        if (res?.status === 202) break;
        retries += 1;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
  await Promise.all(Array.from({ length: parallel }, lane));
  return { requests, retries };
}

/** What the store holds, in terms that do not depend on the order of processing or on profile ids. */
export async function storeState(admin: pg.Client, schema: string) {
  const one = async (sql: string) => Number((await admin.query<{ n: string }>(sql)).rows[0]?.n ?? 0);
  const records = await one(`SELECT count(*) AS n FROM ${schema}.records`);
  const distinctRecords = await one(`SELECT count(DISTINCT (source, source_id)) AS n FROM ${schema}.records`);
  const profiles = await one(`SELECT count(*) AS n FROM ${schema}.profiles WHERE merged_into IS NULL`);
  const interactions = await one(`SELECT count(*) AS n FROM ${schema}.records WHERE kind = 'interaction'`);
  // Each live profile named by its smallest record key, with the size of its timeline.
  const { rows } = await admin.query<{ key: string; records: number; interactions: number }>(
    `SELECT min(source || '/' || source_id) AS key, count(*)::int AS records, count(*) FILTER (WHERE kind = 'interaction')::int AS interactions
       FROM ${schema}.records GROUP BY profile_id ORDER BY key`,
  );
  const timelines = Object.fromEntries(rows.map((r) => [r.key, `${r.records}/${r.interactions}`]));
  return { records, distinctRecords, profiles, interactions, timelines };
}

/** The ingest queue's counts under a prefix. */
export async function ingestCounts(prefix: string, redisUrl = REDIS_URL) {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue('ingest', { connection: redis, prefix });
  try {
    return await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed', 'completed');
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

/** Waits until the ingest queue has nothing waiting, active or delayed; returns the time it took. */
export async function drained(prefix: string, timeoutMs: number, redisUrl = REDIS_URL): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const c = await ingestCounts(prefix, redisUrl);
    if (c['waiting']! + c['active']! + c['delayed']! + c['prioritized']! === 0) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`the ingest queue did not drain within ${timeoutMs} ms: ${JSON.stringify(c)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * A TCP proxy in front of PostgreSQL that can be cut: `cut()` destroys every live connection and
 * refuses new ones (accepted, then reset) until `restore()`.
 */
export async function startProxy(targetHost: string, targetPort: number): Promise<{ port: number; cut(): void; restore(): void; close(): Promise<void>; refused: number }> {
  const live = new Set<Socket>();
  let down = false;
  let refused = 0;
  const server: Server = createServer((client) => {
    if (down) {
      refused += 1;
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, targetHost);
    live.add(client);
    live.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      live.delete(client);
      live.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    cut() {
      down = true;
      for (const s of live) s.destroy();
      live.clear();
    },
    restore() {
      down = false;
    },
    get refused() {
      return refused;
    },
    close() {
      for (const s of live) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Prints a scenario's figures and keeps them in data/chaos-results/<name>.json (gitignored) for the release note. */
export function report(name: string, figures: Record<string, unknown>): void {
  const out = join(REPO_ROOT, 'data', 'chaos-results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, `${name}.json`), `${JSON.stringify({ scenario: name, at: new Date().toISOString(), ...figures }, null, 2)}\n`);
  console.log(`[chaos] ${name}: ${JSON.stringify(figures)}`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
