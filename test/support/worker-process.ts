// A worker-only hub in its own process, for tests that need several worker processes on one
// PostgreSQL schema and one Redis prefix. Env: TEST_SCHEMA, TEST_PREFIX, TEST_CONCURRENCY.
import { parseConfig } from '../../src/core/config/load-config.js';
import { createHub } from '../../src/core/hub.js';
import { createLogger } from '../../src/core/logger.js';
import { createPostgresDb } from '../../src/core/store/postgres.db.js';
import { DATABASE_URL, REDIS_URL } from './env.js';

const schema = process.env['TEST_SCHEMA'];
const prefix = process.env['TEST_PREFIX'];
if (!schema || !prefix) throw new Error('TEST_SCHEMA and TEST_PREFIX are required');

const hub = await createHub({
  role: 'worker',
  config: parseConfig({ pipeline: { concurrency: Number(process.env['TEST_CONCURRENCY'] ?? 16), backoffMs: 50 } }),
  db: createPostgresDb({ connectionString: DATABASE_URL, schema }),
  redisUrl: REDIS_URL,
  prefix,
  log: createLogger({ level: process.env['LOG_LEVEL'] ?? 'warn' }),
});
await hub.worker?.waitUntilReady();
process.stdout.write('worker ready\n');
process.once('SIGTERM', () => {
  void hub.close().then(() => process.exit(0));
});
