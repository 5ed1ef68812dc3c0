import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { LightMyRequestResponse } from 'fastify';
import { parseConfig } from '../../src/core/config/load-config.js';
import { createHub, type Hub, type HubOptions, type Role } from '../../src/core/hub.js';
import { createLogger } from '../../src/core/logger.js';
import { sha256Hex } from '../../src/core/api/auth.js';
import type { Db } from '../../src/core/store/db.js';
import { createPgliteDb } from '../../src/core/store/pglite.db.js';
import { createPostgresDb } from '../../src/core/store/postgres.db.js';
import { createProfileStore, type ProfileStore } from '../../src/core/store/profile.store.js';
import { resolveOptions } from '../../src/core/identity/resolve-options.js';
import { DATABASE_URL, REDIS_URL, type StoreKind } from './env.js';

export const ADMIN_KEY = 'test-admin-key';
/** One key per scope, named after it, for 403 checks. */
export const SCOPED_KEYS = { ingest: 'key-ingest', read: 'key-read', write: 'key-write', admin: 'key-admin' } as const;

export type TestDb = { db: Db; schema: string | null; drop(): Promise<void> };

export async function createTestDb(kind: StoreKind): Promise<TestDb> {
  if (kind === 'pglite') {
    const db = await createPgliteDb();
    return { db, schema: null, drop: () => db.close() };
  }
  const schema = `t_${randomUUID().replace(/-/g, '')}`;
  const admin = createPostgresDb({ connectionString: DATABASE_URL, max: 1 });
  await admin.exec(`CREATE SCHEMA ${schema}`);
  const db = createPostgresDb({ connectionString: DATABASE_URL, schema });
  return {
    db,
    schema,
    async drop() {
      await db.close();
      await admin.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.close();
    },
  };
}

/** The profile store with the default identity config, for tests that wrap it with faults. */
export function defaultProfileStore(db: Db): ProfileStore {
  return createProfileStore(db, resolveOptions(parseConfig({}).identity));
}

/** Deletes every Redis key under a test's prefix. */
export async function dropRedisPrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export type TestHub = Hub & {
  prefix: string;
  testDb: TestDb;
  request(method: string, url: string, options?: { body?: unknown; key?: string | null; headers?: Record<string, string> }): Promise<LightMyRequestResponse>;
  /** Resolves once the ingest queue has nothing waiting, active or delayed. */
  drained(timeoutMs?: number): Promise<void>;
  /** Resolves once every queued connector event has run and every record it made is stored. */
  settled(): Promise<void>;
  /** Resolves once the record's status is `processed`. */
  processed(source: string, sourceId: string): Promise<void>;
  close(): Promise<void>;
};

export type TestHubOptions = {
  store: StoreKind;
  role?: Role;
  config?: Record<string, unknown>;
  prefix?: string;
  testDb?: TestDb;
  workerStore?: HubOptions['workerStore'];
};

export async function startTestHub(options: TestHubOptions): Promise<TestHub> {
  const prefix = options.prefix ?? `test-${randomUUID()}`;
  const testDb = options.testDb ?? (await createTestDb(options.store));
  const overrides = options.config ?? {};
  const config = parseConfig({
    ...overrides,
    pipeline: { backoffMs: 50, attempts: 3, ...((overrides['pipeline'] as object | undefined) ?? {}) },
    // The tests' subscribers listen on loopback, which the hub refuses by default.
    events: { allowPrivateUrls: true, ...((overrides['events'] as object | undefined) ?? {}) },
    auth: { keys: Object.entries(SCOPED_KEYS).map(([scope, key]) => ({ name: key, sha256: sha256Hex(key), scopes: [scope] })) },
  });
  const hub = await createHub({
    role: options.role ?? 'all',
    config,
    db: testDb.db,
    redisUrl: REDIS_URL,
    prefix,
    bootstrapKey: ADMIN_KEY,
    log: createLogger({ level: process.env['LOG_LEVEL'] ?? 'silent' }),
    ...(options.workerStore ? { workerStore: options.workerStore } : {}),
  });
  const testHub: TestHub = {
    ...hub,
    prefix,
    testDb,
    async request(method, url, opts = {}) {
      if (!hub.app) throw new Error('this test hub has no API');
      const key = opts.key === undefined ? ADMIN_KEY : opts.key;
      return hub.app.inject({
        method: method as 'GET',
        url,
        headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(opts.headers ?? {}) },
        ...(opts.body !== undefined ? { payload: opts.body as object } : {}),
      });
    },
    async drained(timeoutMs = 30_000) {
      await waitFor(async () => {
        const c = await hub.ingest.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
        return Object.values(c).every((n) => n === 0);
      }, timeoutMs);
    },
    async settled() {
      await waitFor(async () => {
        const c = await hub.connectors.queues[0]!.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
        return Object.values(c).every((n) => n === 0);
      });
      await testHub.drained();
    },
    async processed(source, sourceId) {
      await waitFor(async () => (await testHub.request('GET', `/v1/records/${source}/${encodeURIComponent(sourceId)}`)).json().status === 'processed');
    },
    async close() {
      await hub.close();
      if (!options.testDb) await testDb.drop();
      await dropRedisPrefix(prefix);
    },
  };
  return testHub;
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs = 20_000, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
