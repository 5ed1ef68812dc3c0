import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import closeWithGrace from 'close-with-grace';
import type { Logger } from 'pino';
import { HubError, isHubError } from './core/errors.js';
import type { Hub, Role } from './core/hub.js';
import { createLogger } from './core/logger.js';
import { STOP_SIGNALS, watchStopSignals } from './core/stop-signals.js';
import type { PrivateRedis } from './core/redis.js';
import type { Db } from './core/store/db.js';

// The rest of the hub (schema compiler, Fastify, BullMQ, the stores) is imported where it is first
// needed: a wrong argument or setting is reported in a fraction of the time it takes to load all.

const SHUTDOWN_GRACE_MS = 30_000;
/** npm passes a signal on within milliseconds; a person who presses Ctrl-C again to force the exit takes longer. */
const REPEATED_SIGNAL_MS = 1000;
const USAGE = 'usage: npm start [-- --role all|api|worker]';
/** Every Role (the Record type makes the compiler say so when one is added); hub.ts is not loaded yet. */
const ROLES: Record<Role, true> = { all: true, api: true, worker: true };

function readRole(): Role {
  let value: string | undefined;
  try {
    ({ values: { role: value } } = parseArgs({ options: { role: { type: 'string', default: 'all' } }, allowPositionals: false }));
  } catch (cause) {
    throw new HubError('STARTUP', `${(cause as Error).message} (${USAGE})`, { cause });
  }
  if (value === undefined || !Object.hasOwn(ROLES, value)) throw new HubError('STARTUP', `--role must be one of ${Object.keys(ROLES).join(', ')}; got "${value}"`);
  return value as Role;
}

function readListen(): { port: number; host: string } {
  const raw = process.env['PORT'] ?? '3000';
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65_535) throw new HubError('STARTUP', `PORT must be a port number (0-65535); got "${raw}"`);
  return { port, host: process.env['HOST'] ?? '127.0.0.1' };
}

/** A URL fit for a message or a log line: its password, if any, hidden. */
function safeUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*):[^@/]*@/i, '$1:[redacted]@');
}

async function openStore(dataDir: string): Promise<Db> {
  const url = process.env['DATABASE_URL'];
  if (url) return (await import('./core/store/postgres.db.js')).createPostgresDb({ connectionString: url });
  return (await import('./core/store/pglite.db.js')).createPgliteDb(join(dataDir, 'pgdata'));
}

type RedisChoice = { url: string; owned: PrivateRedis | null };

/** The Redis at REDIS_URL if it answers; else a private redis-server (npm start only); else a clear error. */
async function ensureRedis(role: Role, dataDir: string, log: Logger): Promise<RedisChoice> {
  const { onPath, probeRedis, startPrivateRedis } = await import('./core/redis.js');
  const url = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  const probe = await probeRedis(url);
  if (probe.ok) return { url, owned: null };
  if (probe.answered) {
    // Something answers but refuses us (a password, ...): starting a Redis of our own would hide that.
    throw new HubError('STARTUP', `the Redis at ${safeUrl(url)} (REDIS_URL) refused the connection: ${probe.error}`);
  }
  if (role === 'all' && onPath('redis-server')) {
    const owned = await startPrivateRedis(join(dataDir, 'redis'), log);
    return { url: owned.url, owned };
  }
  throw new HubError(
    'STARTUP',
    `no Redis answers at ${safeUrl(url)} (REDIS_URL). Start one (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis; Docker: docker run -p 6379:6379 redis:7) or point REDIS_URL at yours.` +
      (role === 'all' ? ' With redis-server on the PATH, npm start starts a private one by itself.' : ''),
  );
}

type Running = { hub: Hub; redis: RedisChoice; role: Role; store: Db['kind']; keys: number; http: boolean };

/** A stop requested while starting: what was opened is closed, and the process exits 0. */
class StartAborted extends Error {}

/**
 * Starts the hub in the order that fails fastest: arguments and settings, config, Redis, then the
 * store (the embedded one takes seconds to open). What it opened is closed again if a later step
 * fails, or if `stop` is aborted meanwhile (a step under way is let finish first).
 */
async function start(log: Logger, stop: AbortSignal): Promise<Running> {
  const role = readRole();
  const listen = readListen();
  if (role !== 'all' && !process.env['DATABASE_URL']) {
    throw new HubError('STARTUP', `--role ${role} needs PostgreSQL: set DATABASE_URL. The embedded store (no DATABASE_URL) serves one process, which runs the API and the workers together (npm start).`);
  }
  const dataDir = resolve(process.env['HUB_DATA_DIR'] ?? './data');
  const configFile = process.env['HUB_CONFIG'] ?? './config/hub.yaml';
  if (!process.env['HUB_CONFIG'] && !existsSync(configFile)) {
    throw new HubError('CONFIG_INVALID', `no config at ${configFile}: copy config/hub.example.yaml there, or set HUB_CONFIG`);
  }
  const config = (await import('./core/config/load-config.js')).loadConfigFile(configFile);

  const redis = await ensureRedis(role, dataDir, log);
  // Undone last first.
  const undo: (() => Promise<unknown>)[] = [async () => redis.owned?.stop()];
  const fail = async (err: Error): Promise<never> => {
    for (const step of undo.reverse()) await step().catch(() => undefined);
    throw err;
  };
  const checkpoint = async () => {
    if (stop.aborted) await fail(new StartAborted('stopped while starting'));
  };
  await checkpoint();

  const db = await openStore(dataDir).catch((cause: unknown) => fail(isHubError(cause) ? cause : new HubError('STARTUP', `cannot open the store: ${(cause as Error).message}`, { cause })));
  undo.push(() => db.close());
  await checkpoint();
  const { createHub } = await import('./core/hub.js');
  await checkpoint();
  const hub = await createHub({
    role,
    config,
    db,
    redisUrl: redis.url,
    prefix: process.env['HUB_QUEUE_PREFIX'] ?? 'crm-hub',
    bootstrapKey: process.env['HUB_API_KEY'],
    log,
  }).catch((err: unknown) => {
    const dbUrl = process.env['DATABASE_URL'];
    // Unreachable, or the server refused the connection: SQLSTATE 08 connection, 28 authorization, 3D no such database.
    const refused = /^(08|28|3D)/.test(String((err as { code?: unknown }).code ?? ''));
    if (dbUrl && ((isHubError(err) && err.code === 'HUB_ERR_STORE_UNAVAILABLE') || refused)) {
      return fail(new HubError('STARTUP', `${isHubError(err) ? '' : 'PostgreSQL refused the connection: '}${(err as Error).message} (DATABASE_URL=${safeUrl(dbUrl)})`, { cause: err }));
    }
    return fail(isHubError(err) ? err : new HubError('STARTUP', `cannot start: ${(err as Error).message}`, { cause: err }));
  });
  undo.splice(0, undo.length, async () => redis.owned?.stop(), async () => hub.close());
  await checkpoint();

  // The API; on a worker its health and metrics, when PORT names a port for it: by default a worker
  // serves no HTTP, so that it never takes the port of an API beside it (both default to 3000).
  const http = hub.app ?? (process.env['PORT'] === undefined ? null : hub.operations);
  if (http) {
    await http.listen(listen).catch((err: NodeJS.ErrnoException) =>
      fail(
        new HubError(
          'STARTUP',
          err.code === 'EADDRINUSE'
            ? `cannot listen on ${listen.host}:${listen.port}: the address is in use; set PORT (or HOST) to a free one`
            : `cannot listen on ${listen.host}:${listen.port} (PORT, HOST): ${err.message}`,
          { cause: err },
        ),
      ),
    );
  }
  return { hub, redis, role, store: db.kind, keys: config.auth.keys.length + (process.env['HUB_API_KEY'] ? 1 : 0), http: http !== null };
}

function main(): void {
  // Through process.stdout, whose writes to files and pipes are synchronous (Linux): with pino's
  // default asynchronous destination, the lines written just before process.exit (the shutdown,
  // close-with-grace) came out of order under load, and could be lost.
  const log = createLogger(process.stdout.isTTY ? { pretty: true } : { destination: process.stdout });
  // Installed before anything is opened: a signal during startup stops the start at its next step
  // (the one under way, such as opening the embedded store, is let finish), closes what it opened,
  // and exits 0. A private redis-server is never left behind.
  const stop = new AbortController();
  const startup = start(log, stop.signal);
  const signals = watchStopSignals({
    repeatMs: REPEATED_SIGNAL_MS,
    stop: () => graceful.close(),
    exitNow: (signal) => {
      log.error({ signal }, 'second stop signal: exiting without waiting');
      process.exit(1);
    },
  });
  // close-with-grace handles errors and the other signals; SIGINT and SIGTERM come through `signals`.
  const graceful = closeWithGrace({ delay: SHUTDOWN_GRACE_MS, logger: log, skip: [...STOP_SIGNALS] }, async ({ signal, err }) => {
    const stopSignal = signals.began(signal);
    stop.abort();
    if (err) log.error({ err }, 'shutting down after an error');
    else log.info({ signal: stopSignal }, 'shutting down: draining workers and closing connections');
    const running = await startup.catch((startErr: unknown) => {
      if (!(startErr instanceof StartAborted)) log.error({ err: startErr }, 'the start failed while shutting down');
      return null; // start() has closed what it opened
    });
    if (running) {
      await running.hub.close();
      await running.redis.owned?.stop();
    }
    log.info('stopped');
  });

  startup.then(
    ({ role, store, redis, keys, http }) => {
      if (stop.signal.aborted) return; // the shutdown handler closes it
      log.info({ role, store, redis: redis.owned ? 'private' : 'REDIS_URL', keys, http }, 'crm-hub started');
      if (keys === 0) log.warn('no API keys: set HUB_API_KEY or add keys to the config, or every /v1 route answers 401');
    },
    (err: unknown) => {
      if (stop.signal.aborted) return; // the shutdown handler reports it and exits
      // Expected failures get one line that names the setting; anything else keeps its stack.
      if (isHubError(err)) console.error(`crm-hub: ${oneLine(err.message)}`);
      else console.error('crm-hub: failed to start', err);
      process.exit(1);
    },
  );
}

/** Messages from parsers can carry a code frame over several lines; the first paragraph says it. */
function oneLine(message: string): string {
  const [first = message] = message.split(/\n\s*\n/);
  return first.replace(/\s*\n\s*/g, ' ').replace(/:$/, '');
}

main();
