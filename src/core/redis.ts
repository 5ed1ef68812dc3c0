import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { HubError } from './errors.js';

/**
 * Workers block on Redis and must wait through outages (maxRetriesPerRequest: null); the API
 * must fail fast instead so that a request answers 503 rather than hang (no offline queue).
 */
export function createRedis(url: string, purpose: 'worker' | 'api'): Redis {
  const options: RedisOptions =
    purpose === 'worker'
      ? { maxRetriesPerRequest: null, retryStrategy: (n) => Math.min(200 * n, 5000) }
      : { maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: (n) => Math.min(200 * n, 5000) };
  const redis = new Redis(url, { ...options, lazyConnect: false });
  // Connection errors are retried by ioredis and surface through failed commands; an 'error'
  // event without a listener would crash the process.
  redis.on('error', () => undefined);
  return redis;
}

export type RedisProbe = { ok: true } | { ok: false; /** a server answered, but refused us */ answered: boolean; error: string };

/**
 * Connects once and PINGs. Tells "nothing answers" (connection refused, timeout) apart from "a
 * Redis answers and refuses" (wrong or missing password, ...): only the former may be replaced.
 */
export async function probeRedis(url: string, timeoutMs = 1500): Promise<RedisProbe> {
  const probe = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  // A refusal during the handshake (NOAUTH, WRONGPASS) arrives as an 'error' event; connect() then only says "Connection is closed".
  let refusal: Error | undefined;
  probe.on('error', (err: Error) => {
    if (err.name === 'ReplyError') refusal ??= err;
  });
  try {
    await probe.connect();
    const pong = await probe.ping();
    return pong === 'PONG' ? { ok: true } : { ok: false, answered: true, error: `PING answered ${String(pong)}` };
  } catch (err) {
    const refused = refusal ?? ((err as Error).name === 'ReplyError' ? (err as Error) : undefined);
    if (refused) {
      const hint = /AUTH|WRONGPASS/.test(refused.message) ? ' (put the password in the URL: redis://:PASSWORD@host:port, or redis://USER:PASSWORD@host:port)' : '';
      return { ok: false, answered: true, error: `${refused.message}${hint}` };
    }
    return { ok: false, answered: false, error: (err as Error).message };
  } finally {
    probe.disconnect();
  }
}

export async function pingRedis(url: string, timeoutMs = 1500): Promise<boolean> {
  return (await probeRedis(url, timeoutMs)).ok;
}

/** A loopback port nothing listens on at the time of asking. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export type PrivateRedis = { url: string; stop(): Promise<void> };

/**
 * Starts a redis-server of the hub's own on a free loopback port. It keeps an append-only file
 * in `dir`, so records accepted before a restart of the hub are still queued after it.
 */
export async function startPrivateRedis(dir: string, log: Logger): Promise<PrivateRedis> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  let child: ChildProcess;
  try {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', '', '--daemonize', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (cause) {
    throw new HubError('STARTUP', 'cannot start redis-server', { cause });
  }
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  await spawned.catch((cause: unknown) => {
    throw new HubError('STARTUP', `cannot start redis-server: ${(cause as Error).message}`, { cause });
  });
  // Read all it writes (a full pipe would stall it) and keep the end, to say why it failed.
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-2000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  while (!(await pingRedis(url, 500))) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      const said = output.trim().split('\n').at(-1)?.trim();
      throw new HubError('STARTUP', `private redis-server did not answer on port ${port}${said ? `; it said: ${said}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  log.info({ url, dir }, 'no Redis answered at REDIS_URL: started a private redis-server for this hub (stopped with it)');
  let stopping: Promise<void> | undefined;
  return {
    url,
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
      return stopping;
    },
  };
}

/** True when an executable of that name is on the PATH. */
export function onPath(program: string): boolean {
  return (process.env['PATH'] ?? '')
    .split(':')
    .filter(Boolean)
    .some((dir) => {
      try {
        accessSync(join(dir, program), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}
