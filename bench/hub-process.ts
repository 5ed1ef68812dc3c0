// The hub under test, alone in its own process (its RSS and CPU are its own; the load generator
// does not share its event loop). Started by run.ts with fork(): it answers IPC messages.
//   env: BENCH_ROLE (all|api|worker), BENCH_STORE (postgres|pglite), BENCH_SCHEMA (postgres),
//        BENCH_PGLITE_DIR (pglite), BENCH_PREFIX, BENCH_KEY, BENCH_CONCURRENCY, BENCH_TRANSACTION_SIZE (optional),
//        DATABASE_URL, REDIS_URL, LOG_LEVEL
//   → { type: 'ready', port }           once listening (port null for a worker)
//   ← { type: 'stats' }   → { type: 'stats', rssPeak, rss, cpuUser, cpuSystem, profiles, records }
//   ← { type: 'reset' }   → { type: 'reset' }   (restarts the RSS peak)
//   ← { type: 'stop' }    → exits 0 after closing the hub
import { parseConfig } from '../src/core/config/load-config.js';
import { createHub, ROLES, type Role } from '../src/core/hub.js';
import { createLogger } from '../src/core/logger.js';
import type { Db } from '../src/core/store/db.js';
import { createPgliteDb } from '../src/core/store/pglite.db.js';
import { createPostgresDb } from '../src/core/store/postgres.db.js';
import { DATABASE_URL, REDIS_URL } from '../test/support/env.js';

export type HubRequest = { type: 'stats' } | { type: 'reset' } | { type: 'stop' };
export type HubStats = { type: 'stats'; rssPeak: number; rss: number; cpuUser: number; cpuSystem: number; profiles: number; records: number };
export type HubMessage = { type: 'ready'; port: number | null } | HubStats | { type: 'reset' } | { type: 'error'; message: string };

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

function send(message: HubMessage): void {
  process.send?.(message);
}

const role = env('BENCH_ROLE') as Role;
if (!ROLES.includes(role)) throw new Error(`BENCH_ROLE must be one of ${ROLES.join(', ')}`);
const storeKind = env('BENCH_STORE');
const db: Db =
  storeKind === 'pglite'
    ? await createPgliteDb(env('BENCH_PGLITE_DIR'))
    : createPostgresDb({ connectionString: DATABASE_URL, schema: env('BENCH_SCHEMA') });

let rssPeak = process.memoryUsage.rss();
const sampler = setInterval(() => {
  rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
}, 100);
sampler.unref();

const concurrency = process.env['BENCH_CONCURRENCY'];
const transactionSize = process.env['BENCH_TRANSACTION_SIZE'];
const hub = await createHub({
  role,
  config: parseConfig({ pipeline: { ...(concurrency ? { concurrency: Number(concurrency) } : {}), ...(transactionSize ? { transactionSize: Number(transactionSize) } : {}) } }),
  db,
  redisUrl: REDIS_URL,
  prefix: env('BENCH_PREFIX'),
  bootstrapKey: env('BENCH_KEY'),
  log: createLogger({ level: process.env['LOG_LEVEL'] ?? 'warn' }),
});
let port: number | null = null;
if (hub.app) {
  await hub.app.listen({ port: 0, host: '127.0.0.1' });
  const address = hub.app.server.address();
  port = typeof address === 'object' && address ? address.port : null;
}
if (hub.worker) await hub.worker.waitUntilReady();

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(sampler);
  await hub.close();
  process.exit(0);
}

process.on('message', (message: HubRequest) => {
  void (async () => {
    try {
      if (message.type === 'stats') {
        rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
        const cpu = process.cpuUsage();
        // Counting is the hub's own job: an embedded store cannot be read from another process.
        const counts = role === 'worker' ? { profiles: -1, records: -1 } : await hub.store.counts();
        send({ type: 'stats', rssPeak, rss: process.memoryUsage.rss(), cpuUser: cpu.user, cpuSystem: cpu.system, ...counts });
      } else if (message.type === 'reset') {
        rssPeak = process.memoryUsage.rss();
        send({ type: 'reset' });
      } else if (message.type === 'stop') {
        await stop();
      }
    } catch (err) {
      send({ type: 'error', message: (err as Error).message });
    }
  })();
});
process.on('disconnect', () => void stop());
process.once('SIGTERM', () => void stop());
send({ type: 'ready', port });
