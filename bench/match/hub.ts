// One hub in this process on a fresh store (a new PostgreSQL schema, or PGlite in memory) and its
// own Redis prefix; the benchmark talks to it only through its HTTP API (app.inject) and reads the
// final clustering straight from the store's records table.
import { randomBytes } from 'node:crypto';
import type { HubConfig } from '../../src/core/config/config.schema.js';
import { createHub, type Hub } from '../../src/core/hub.js';
import { createLogger } from '../../src/core/logger.js';
import type { HubRecord } from '../../src/core/record.schema.js';
import type { Db } from '../../src/core/store/db.js';
import { REDIS_URL } from '../../test/support/env.js';
import { dropRedisPrefix } from '../../test/support/hub.js';

export const BATCH = 1000;

export type BenchHub = {
  hub: Hub;
  db: Db;
  /** POSTs records in batches of BATCH, one batch after the other, in the given order. */
  post(records: readonly HubRecord[]): Promise<void>;
  /** Resolves once the queue is empty and `expected` records are in the store; returns failed jobs. */
  stored(expected: number, timeoutMs?: number): Promise<{ failedJobs: number }>;
  /** `${source}\u0000${sourceId}` → live profile id. */
  profiles(): Promise<Map<string, string>>;
  /** Normalized identifiers per record (`recordKey`), but the record's own external id. */
  identifiers(): Promise<Map<string, string[]>>;
  /** Per live profile, the reasons of the merges that made it, with counts. */
  mergeReasons(): Promise<Map<string, Record<string, number>>>;
  /** Open review pairs, every page; null when the hub has no duplicates endpoint (404). */
  reviewPairs(): Promise<number | null>;
  close(): Promise<void>;
};

export type BenchHubOptions = {
  config: HubConfig;
  /** The store the hub runs on; dropped on close. */
  fresh: FreshStore;
  logLevel?: string;
};

export function recordKey(source: string, sourceId: string): string {
  return `${source}\u0000${sourceId}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The store a bench hub runs on (test/support/hub.ts createTestDb: a fresh schema or PGlite). */
export type FreshStore = { db: Db; drop(): Promise<void> };

export async function startBenchHub(label: string, options: BenchHubOptions): Promise<BenchHub> {
  const { fresh } = options;
  const key = `matchbench-${randomBytes(12).toString('hex')}`;
  const prefix = `matchbench-${label}-${randomBytes(4).toString('hex')}`;
  const hub = await createHub({
    role: 'all',
    config: options.config,
    db: fresh.db,
    redisUrl: REDIS_URL,
    prefix,
    bootstrapKey: key,
    log: createLogger({ level: options.logLevel ?? 'warn' }),
  });
  const app = hub.app;
  if (!app) throw new Error('the hub has no API');

  async function request(method: 'GET' | 'POST', url: string, body?: unknown) {
    return app!.inject({ method, url, headers: { authorization: `Bearer ${key}` }, ...(body !== undefined ? { payload: body as object } : {}) });
  }

  return {
    hub,
    db: fresh.db,
    async post(records) {
      for (let from = 0; from < records.length; from += BATCH) {
        const res = await request('POST', '/v1/records', { records: records.slice(from, from + BATCH) });
        if (res.statusCode !== 202) throw new Error(`POST /v1/records answered ${res.statusCode}: ${res.body.slice(0, 2000)}`);
      }
    },
    async stored(expected, timeoutMs = 30 * 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const counts = await hub.ingest.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
        const busy = Object.values(counts).some((n) => n > 0);
        const failedJobs = (await hub.ingest.queue.getJobCounts('failed'))['failed'] ?? 0;
        if (!busy) {
          const rows = (await fresh.db.query<{ n: number }>('SELECT count(*)::int AS n FROM records')).rows;
          const n = rows[0]?.n ?? 0;
          // A failed job holds records that will never arrive: stop waiting, the caller reports it.
          if (n >= expected || failedJobs > 0) return { failedJobs };
        }
        if (Date.now() > deadline) throw new Error(`records not stored within ${timeoutMs} ms`);
        await sleep(50);
      }
    },
    async profiles() {
      const rows = (await fresh.db.query<{ source: string; source_id: string; profile_id: string }>('SELECT source, source_id, profile_id FROM records')).rows;
      return new Map(rows.map((r) => [recordKey(r.source, r.source_id), r.profile_id]));
    },
    async identifiers() {
      const rows = (
        await fresh.db.query<{ source: string; source_id: string; type: string; value: string }>(
          `SELECT source, source_id, type, value FROM record_identifiers WHERE NOT (type = 'externalId' AND value = source || ':' || source_id)`,
        )
      ).rows;
      const byRecord = new Map<string, string[]>();
      for (const r of rows) {
        const key = recordKey(r.source, r.source_id);
        byRecord.set(key, [...(byRecord.get(key) ?? []), `${r.type}:${r.value}`]);
      }
      return byRecord;
    },
    async mergeReasons() {
      // Merges into a profile that was itself merged later belong to the live survivor.
      const rows = (
        await fresh.db.query<{ profile_id: string; reason: string; n: number }>(
          `SELECT coalesce(p.merged_into, p.id) AS profile_id, m.reason, count(*)::int AS n
             FROM profile_merges m JOIN profiles p ON p.id = m.survivor_id
            GROUP BY 1, 2`,
        )
      ).rows;
      const byProfile = new Map<string, Record<string, number>>();
      for (const r of rows) byProfile.set(r.profile_id, { ...byProfile.get(r.profile_id), [r.reason]: r.n });
      return byProfile;
    },
    async reviewPairs() {
      let total = 0;
      let cursor: string | null = null;
      for (;;) {
        const res = await request('GET', `/v1/duplicates?status=open${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        if (res.statusCode === 404 && total === 0 && cursor === null) return null;
        if (res.statusCode !== 200) throw new Error(`GET /v1/duplicates answered ${res.statusCode}: ${res.body.slice(0, 500)}`);
        const body = res.json() as unknown;
        // A page is {data, nextCursor}, like the hub's other lists; a plain array is one page.
        if (Array.isArray(body)) return total + body.length;
        const page = body as { data?: unknown[]; nextCursor?: string | null };
        total += page.data?.length ?? 0;
        if (!page.nextCursor) return total;
        cursor = page.nextCursor;
      }
    },
    async close() {
      await hub.close();
      await fresh.drop();
      await dropRedisPrefix(prefix);
    },
  };
}
