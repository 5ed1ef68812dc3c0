// npm run resolve -- --all: re-clusters every record under the rules in the current config (see
// src/core/identity/reresolve.ts). Uses DATABASE_URL, or the embedded store in HUB_DATA_DIR (stop
// the hub first: the embedded store has one user at a time). Safe to stop and run again: it resumes.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfigFile } from '../src/core/config/load-config.js';
import { createLogger } from '../src/core/logger.js';
import { migrate } from '../src/core/store/migrate.js';
import { createProfileStore } from '../src/core/store/profile.store.js';
import { resolveOptions } from '../src/core/identity/resolve-options.js';
import { reresolveAll } from '../src/core/identity/reresolve.js';
import type { Db } from '../src/core/store/db.js';

const { values } = parseArgs({ options: { all: { type: 'boolean', default: false }, chunk: { type: 'string', default: '1000' } } });
if (!values.all) {
  console.error('usage: npm run resolve -- --all [--chunk N]   (re-clusters every record under the current rules)');
  process.exit(2);
}
const log = createLogger();
const config = loadConfigFile(process.env['HUB_CONFIG'] ?? 'config/hub.yaml');
const url = process.env['DATABASE_URL'];
const db: Db = url
  ? (await import('../src/core/store/postgres.db.js')).createPostgresDb({ connectionString: url })
  : await (await import('../src/core/store/pglite.db.js')).createPgliteDb(join(process.env['HUB_DATA_DIR'] ?? './data', 'pgdata'));
try {
  await migrate(db);
  const outcome = await reresolveAll(db, createProfileStore(db, resolveOptions(config.identity)), { chunk: Number(values.chunk), log });
  console.log(`re-resolution ${outcome.run}${outcome.resumed ? ' (resumed)' : ''}: ${outcome.records} records placed`);
} finally {
  await db.close();
}
