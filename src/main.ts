import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import closeWithGrace from 'close-with-grace';
import { loadConfigFile } from './core/config/load-config.js';
import { HubError, isHubError } from './core/errors.js';
import { createHub, ROLES, type Role } from './core/hub.js';
import { createLogger } from './core/logger.js';
import { onPath, pingRedis, startPrivateRedis, type PrivateRedis } from './core/redis.js';
import { createPostgresDb } from './core/store/postgres.db.js';
import { createPgliteDb } from './core/store/pglite.db.js';
import type { Db } from './core/store/db.js';

const SHUTDOWN_GRACE_MS = 30_000;

function readRole(): Role {
  const { values } = parseArgs({ options: { role: { type: 'string', default: 'all' } }, allowPositionals: false });
  const role = values.role as Role;
  if (!ROLES.includes(role)) throw new HubError('STARTUP', `--role must be one of ${ROLES.join(', ')}; got "${values.role}"`);
  return role;
}

async function openStore(role: Role, dataDir: string): Promise<Db> {
  const url = process.env['DATABASE_URL'];
  if (url) return createPostgresDb({ connectionString: url });
  if (role !== 'all') {
    throw new HubError('STARTUP', `--role ${role} needs PostgreSQL: set DATABASE_URL. The embedded store (no DATABASE_URL) serves one process, which runs the API and the workers together (npm start).`);
  }
  return createPgliteDb(join(dataDir, 'pgdata'));
}

async function ensureRedis(role: Role, dataDir: string, log: ReturnType<typeof createLogger>): Promise<{ url: string; owned: PrivateRedis | null }> {
  const url = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  if (await pingRedis(url)) return { url, owned: null };
  if (role === 'all' && onPath('redis-server')) {
    const owned = await startPrivateRedis(join(dataDir, 'redis'), log);
    return { url: owned.url, owned };
  }
  throw new HubError(
    'STARTUP',
    `no Redis answers at ${url} (REDIS_URL). Start one (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis; Docker: docker run -p 6379:6379 redis:7) or point REDIS_URL at yours.` +
      (role === 'all' ? ' With redis-server on the PATH, npm start starts a private one by itself.' : ''),
  );
}

async function main(): Promise<void> {
  const log = createLogger({ pretty: process.stdout.isTTY });
  const role = readRole();
  const dataDir = resolve(process.env['HUB_DATA_DIR'] ?? './data');
  const configFile = process.env['HUB_CONFIG'] ?? './config/hub.yaml';
  if (!process.env['HUB_CONFIG'] && !existsSync(configFile)) {
    throw new HubError('CONFIG_INVALID', `no config at ${configFile}: copy config/hub.example.yaml there, or set HUB_CONFIG`);
  }
  const config = loadConfigFile(configFile);
  const db = await openStore(role, dataDir).catch((cause: unknown) => {
    throw isHubError(cause) ? cause : new HubError('STARTUP', `cannot open the store: ${(cause as Error).message}`, { cause });
  });
  let redis: { url: string; owned: PrivateRedis | null };
  try {
    redis = await ensureRedis(role, dataDir, log);
  } catch (err) {
    await db.close();
    throw err;
  }
  const hub = await createHub({
    role,
    config,
    db,
    redisUrl: redis.url,
    prefix: process.env['HUB_QUEUE_PREFIX'] ?? 'crm-hub',
    bootstrapKey: process.env['HUB_API_KEY'],
    log,
  }).catch(async (err: unknown) => {
    await db.close().catch(() => undefined);
    await redis.owned?.stop();
    if (isHubError(err)) throw err;
    throw new HubError('STARTUP', `cannot start: ${(err as Error).message}`, { cause: err });
  });

  closeWithGrace({ delay: SHUTDOWN_GRACE_MS }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'shutting down after an error');
    else log.info({ signal }, 'shutting down: draining workers and closing connections');
    await hub.close();
    await redis.owned?.stop();
    log.info('stopped');
  });

  if (hub.app) {
    const port = Number(process.env['PORT'] ?? 3000);
    const host = process.env['HOST'] ?? '127.0.0.1';
    await hub.app.listen({ port, host });
  }
  log.info({ role, store: db.kind, redis: redis.owned ? 'private' : 'REDIS_URL', keys: config.auth.keys.length + (process.env['HUB_API_KEY'] ? 1 : 0) }, 'crm-hub started');
  if (!process.env['HUB_API_KEY'] && config.auth.keys.length === 0) {
    log.warn('no API keys: set HUB_API_KEY or add keys to the config, or every /v1 route answers 401');
  }
}

main().catch((err: unknown) => {
  // Expected failures get one line that names the setting; anything else keeps its stack.
  if (isHubError(err)) console.error(`crm-hub: ${err.message}`);
  else console.error('crm-hub: failed to start', err);
  process.exit(1);
});
