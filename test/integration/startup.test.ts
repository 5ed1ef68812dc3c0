import { spawn as spawnProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterEach, describe, expect, it, type TestContext } from 'vitest';
import { pingRedis } from '../../src/core/redis.js';
import { DATABASE_URL, REDIS_URL } from '../support/env.js';
import { dropRedisPrefix } from '../support/hub.js';
import { freePort, outcome, spawnHub, type HubProcess, type SpawnOptions } from '../support/process.js';

/** Distinctive, so that a leak into the logs cannot be a coincidence. */
const API_KEY = 'super-secret-key-123';

/**
 * What one test opened (hubs, temp dirs, queue prefixes, schemas), undone last first after it.
 * Per test rather than global: the tests run concurrently, each on its own ports, dirs, prefix and schema.
 */
const opened = new Map<string, (() => Promise<unknown>)[]>();
afterEach(async ({ task }) => {
  const undo = opened.get(task.id) ?? [];
  opened.delete(task.id);
  for (const step of undo.reverse()) await step().catch(() => undefined);
});

function scope({ task }: TestContext) {
  const undo: (() => Promise<unknown>)[] = [];
  opened.set(task.id, undo);
  const defer = (step: () => Promise<unknown>) => void undo.push(step);

  async function tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'crm-hub-startup-'));
    defer(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  function queuePrefix(): string {
    const prefix = `test-${randomUUID()}`;
    defer(() => dropRedisPrefix(prefix));
    return prefix;
  }

  /** A fresh PostgreSQL schema, and a DATABASE_URL that puts a hub's tables in it (libpq `options`). */
  async function freshSchema(): Promise<{ schema: string; url: string; admin: pg.Client }> {
    const schema = `t_${randomUUID().replace(/-/g, '')}`;
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    defer(() => admin.end());
    await admin.query(`CREATE SCHEMA ${schema}`);
    defer(() => admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
    const url = `${DATABASE_URL}${DATABASE_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    return { schema, url, admin };
  }

  /** The environment of a hub on the embedded store: a fresh HUB_DATA_DIR, a free PORT, its own queue prefix. */
  async function hubEnv(extra: Record<string, string> = {}): Promise<Record<string, string>> {
    return {
      HUB_API_KEY: API_KEY,
      REDIS_URL,
      HUB_DATA_DIR: extra['HUB_DATA_DIR'] ?? (await tempDir()),
      PORT: String(await freePort()),
      HUB_QUEUE_PREFIX: extra['HUB_QUEUE_PREFIX'] ?? queuePrefix(),
      ...extra,
    };
  }

  function spawn(options: SpawnOptions): HubProcess {
    const hub = spawnHub(options);
    defer(() => hub.kill());
    return hub;
  }

  /** Runs a hub that is expected to refuse to start, to its exit. */
  const run = (options: SpawnOptions) => outcome(spawn(options));

  return { defer, tempDir, queuePrefix, freshSchema, hubEnv, spawn, run };
}

function api(env: Record<string, string>) {
  const base = `http://127.0.0.1:${env['PORT']}`;
  return async (method: string, path: string, body?: unknown) => {
    const res = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${API_KEY}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, text, json: () => JSON.parse(text) as Record<string, unknown> };
  };
}

function contact(sourceId: string, email: string) {
  return { source: 'web', sourceId, kind: 'contact', identifiers: { emails: [email] }, traits: { firstName: 'Ivan' } };
}

/** Polls the record's status until the pipeline has processed it; returns the status body. */
async function processed(call: ReturnType<typeof api>, source: string, sourceId: string, timeoutMs = 20_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const res = await call('GET', `/v1/records/${source}/${encodeURIComponent(sourceId)}`);
    last = `${res.status} ${res.text}`;
    if (res.status === 200 && res.json()['status'] === 'processed') return res.json();
    if (res.status === 200 && res.json()['status'] === 'failed') throw new Error(`record failed: ${last}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`record ${source}/${sourceId} not processed within ${timeoutMs} ms; last answer: ${last}`);
}

/** A stop by SIGTERM: exit 0 within 15 s, and the log tells the story. */
async function expectCleanStop(hub: HubProcess): Promise<number> {
  const exit = await hub.stop(15_000);
  expect(exit, hub.stdout + hub.stderr).toMatchObject({ code: 0, signal: null });
  const msgs = hub.logs().map((l) => l.msg);
  expect(msgs).toContain('shutting down: draining workers and closing connections');
  expect(hub.logs().find((l) => /^shutting down/.test(l.msg))).toMatchObject({ signal: 'SIGTERM' });
  // The last line written is the last line read: nothing is reordered or lost at the exit.
  expect(msgs.at(-1), hub.stdout).toBe('stopped');
  return exit.ms;
}

/** Exit 1 with one line on stderr that starts with `crm-hub:` and contains each of `needles`, and no stack trace. */
function expectOneLineFailure(run: { code: number | null; stderr: string; stdout: string }, ...needles: string[]) {
  const context = `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
  expect(run.code, context).toBe(1);
  const lines = run.stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, context).toHaveLength(1);
  expect(lines[0], context).toMatch(/^crm-hub: /);
  expect(run.stderr, context).not.toContain('    at ');
  for (const needle of needles) expect(lines[0], context).toContain(needle);
  expect(run.stdout).not.toContain('crm-hub started');
}

const HEAVY = { timeout: 150_000 };

describe.concurrent('the hub process (npm start)', () => {
  describe('on the embedded store', () => {
    it('runs API and workers in one process, processes a record, and stops on SIGTERM with exit 0', HEAVY, async (ctx) => {
      const t = scope(ctx);
      const env = await t.hubEnv();
      const t0 = Date.now();
      const hub = t.spawn({ env });
      const started = await hub.waitForLog('crm-hub started');
      const startupMs = Date.now() - t0;
      expect(started).toMatchObject({ role: 'all', store: 'pglite', redis: 'REDIS_URL', level: 30 });

      const call = api(env);
      expect((await call('GET', '/health')).status).toBe(200);
      expect((await call('GET', '/ready')).status).toBe(200);
      const accepted = await call('POST', '/v1/records', contact('s-1', 'ivan@example.com'));
      expect(accepted.status, accepted.text).toBe(202);
      const status = await processed(call, 'web', 's-1');
      expect(status['profileId']).toEqual(expect.any(String));
      // A rejected request also carries the key; nothing of it may reach the log either.
      expect((await call('POST', '/v1/records', { source: 'web' })).status).toBe(400);

      const stopMs = await expectCleanStop(hub);
      // stdout is not a TTY: every line is pino JSON, and nothing went to stderr.
      expect(hub.logs().length).toBeGreaterThan(2);
      expect(hub.stderr).toBe('');
      expect(hub.stdout + hub.stderr).not.toContain(API_KEY);
      console.info(`embedded store, fresh HUB_DATA_DIR: started in ${startupMs} ms, stopped in ${stopMs} ms`);
    });

    it('drains on SIGTERM, and keeps the data and the queue across a restart on the same HUB_DATA_DIR', HEAVY, async (ctx) => {
      const t = scope(ctx);
      const dir = await t.tempDir();
      const prefix = t.queuePrefix();
      const first = await t.hubEnv({ HUB_DATA_DIR: dir, HUB_QUEUE_PREFIX: prefix });
      const hub1 = t.spawn({ env: first });
      await hub1.waitForLog('crm-hub started');
      const call1 = api(first);
      expect((await call1('POST', '/v1/records', contact('keep-1', 'kept@example.com'))).status).toBe(202);
      const { profileId } = await processed(call1, 'web', 'keep-1');

      // A batch still in work when SIGTERM comes: the worker finishes its job (or leaves it waiting), never abandons it.
      const batch = Array.from({ length: 200 }, (_, i) => contact(`batch-${i}`, `batch-${i}@example.com`));
      expect((await call1('POST', '/v1/records', { records: batch })).status).toBe(202);
      await expectCleanStop(hub1);
      const redis = new Redis(REDIS_URL);
      t.defer(async () => redis.disconnect());
      expect(await redis.llen(`${prefix}:ingest:active`)).toBe(0);

      const second = await t.hubEnv({ HUB_DATA_DIR: dir, HUB_QUEUE_PREFIX: prefix });
      const t0 = Date.now();
      const hub2 = t.spawn({ env: second });
      await hub2.waitForLog('crm-hub started');
      const restartMs = Date.now() - t0;
      const call2 = api(second);
      expect(await processed(call2, 'web', 'keep-1', 1000)).toMatchObject({ profileId });
      const profile = await call2('GET', `/v1/profiles/${String(profileId)}`);
      expect(profile.status, profile.text).toBe(200);
      expect(profile.text).toContain('kept@example.com');
      await processed(call2, 'web', 'batch-199');
      const statuses = await Promise.all(batch.map((r) => call2('GET', `/v1/records/web/${r.sourceId}`)));
      expect(statuses.filter((r) => r.status !== 200 || r.json()['status'] !== 'processed').map((r) => r.text)).toEqual([]);
      await expectCleanStop(hub2);
      console.info(`embedded store, existing HUB_DATA_DIR: started in ${restartMs} ms`);
    });
  });

  describe('npm start', () => {
    it('passes SIGTERM on to the hub, which drains and exits 0 (and npm with it)', HEAVY, async (ctx) => {
      const t = scope(ctx);
      const hub = t.spawn({ env: await t.hubEnv(), npm: true });
      await hub.waitForLog('crm-hub started');
      await expectCleanStop(hub);
    });

    it('stops once on Ctrl-C, which reaches the hub from the terminal and again from npm', HEAVY, async (ctx) => {
      const t = scope(ctx);
      const hub = t.spawn({ env: await t.hubEnv(), npm: true });
      await hub.waitForLog('crm-hub started');
      // A terminal's Ctrl-C signals its whole foreground process group.
      process.kill(-hub.pid, 'SIGINT');
      const exit = await hub.waitForExit(15_000);
      expect(hub.logs().find((l) => /^shutting down/.test(l.msg)), hub.stdout).toMatchObject({ signal: 'SIGINT' });
      expect(hub.logs().map((l) => l.msg).at(-1), hub.stdout).toBe('stopped');
      expect(exit, hub.stdout + hub.stderr).toMatchObject({ code: 0, signal: null });
    });
  });

  describe('Redis', () => {
    it('starts a private redis-server when none answers at REDIS_URL, and stops it with the hub', HEAVY, async (ctx) => {
      const t = scope(ctx);
      const nobody = await freePort();
      const env = await t.hubEnv({ REDIS_URL: `redis://127.0.0.1:${nobody}` });
      const hub = t.spawn({ env });
      const announced = await hub.waitForLog(/private redis-server/);
      const privateUrl = String(announced['url']);
      expect(privateUrl).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
      expect(privateUrl).not.toBe(env['REDIS_URL']);
      expect(await hub.waitForLog('crm-hub started')).toMatchObject({ redis: 'private' });

      const call = api(env);
      const ready = await call('GET', '/ready');
      expect(ready.status, ready.text).toBe(200);
      expect((await call('POST', '/v1/records', contact('p-1', 'private@example.com'))).status).toBe(202);
      await processed(call, 'web', 'p-1');

      await expectCleanStop(hub);
      expect(await pingRedis(privateUrl, 500)).toBe(false);
    });

    it('on SIGTERM during startup, stops at the next step, stops its private redis-server and exits 0', HEAVY, async (ctx) => {
      const t = scope(ctx);
      // PostgreSQL, so that startup goes on for a moment only after the private redis-server is up.
      const { url } = await t.freshSchema();
      const nobody = await freePort();
      const hub = t.spawn({ env: await t.hubEnv({ DATABASE_URL: url, REDIS_URL: `redis://127.0.0.1:${nobody}` }) });
      const announced = await hub.waitForLog(/private redis-server/);
      const exit = await hub.stop(15_000);
      expect(exit, hub.stdout + hub.stderr).toMatchObject({ code: 0, signal: null });
      expect(await pingRedis(String(announced['url']), 500)).toBe(false);
      expect(hub.logs().at(-1)?.msg).toBe('stopped');
    });

    it('without Redis and without redis-server on the PATH, exits 1 saying how to get one', async (ctx) => {
      const t = scope(ctx);
      const nobody = await freePort();
      // PATH leads nowhere (node is started by its absolute path); the password must not be shown.
      const run = await t.run({
        env: { ...(await t.hubEnv()), REDIS_URL: `redis://:hunter2-redis-pw@127.0.0.1:${nobody}`, PATH: await t.tempDir() },
      });
      expectOneLineFailure(run, 'REDIS_URL', 'apt-get install redis-server');
      expect(run.stderr + run.stdout).not.toContain('hunter2-redis-pw');
    });

    it('does not replace a Redis that answers but refuses (wrong password) with a private one', async (ctx) => {
      const t = scope(ctx);
      const port = await freePort();
      const guarded = spawnProcess('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--requirepass', 'right-pw', '--save', '', '--appendonly', 'no'], {
        stdio: 'ignore',
      });
      t.defer(async () => {
        if (guarded.exitCode !== null || guarded.signalCode !== null) return;
        const gone = new Promise((resolve) => guarded.once('exit', resolve));
        guarded.kill('SIGKILL');
        await gone;
      });
      const deadline = Date.now() + 5000;
      while (!(await pingRedis(`redis://:right-pw@127.0.0.1:${port}`, 500))) {
        if (Date.now() > deadline) throw new Error('the password-protected redis-server did not start');
        await new Promise((r) => setTimeout(r, 50));
      }
      const [noPassword, wrongPassword] = await Promise.all([
        t.hubEnv().then((env) => t.run({ env: { ...env, REDIS_URL: `redis://127.0.0.1:${port}` } })),
        t.hubEnv().then((env) => t.run({ env: { ...env, REDIS_URL: `redis://:wrong-pw-42@127.0.0.1:${port}` } })),
      ]);
      expectOneLineFailure(noPassword, 'REDIS_URL', 'NOAUTH');
      expectOneLineFailure(wrongPassword, 'REDIS_URL', 'WRONGPASS');
      expect(noPassword.stdout + wrongPassword.stdout).not.toMatch(/private redis-server/);
      expect(wrongPassword.stderr).not.toContain('wrong-pw-42');
    });
  });

  describe('a bad config', () => {
    it('exits 1 with one line naming the JSON path and the problem', async (ctx) => {
      const t = scope(ctx);
      async function withConfig(name: string, text: string) {
        const file = join(await t.tempDir(), name);
        await writeFile(file, text);
        return t.run({ env: { ...(await t.hubEnv()), HUB_CONFIG: file } });
      }
      const [invalid, missingVar, missingFile, badYaml, badJson] = await Promise.all([
        withConfig('hub.yaml', 'pipeline: { concurrency: 0 }\nsurprise: true\n'),
        withConfig('hub.yaml', 'identity:\n  defaultCountry: ${HUB_TEST_UNSET_VARIABLE}\n'),
        t.hubEnv().then((env) => t.run({ env: { ...env, HUB_CONFIG: '/nonexistent.yaml' } })),
        withConfig('hub.yaml', 'pipeline:\n  concurrency: [1\nfoo: : bar\n'),
        withConfig('hub.json', '{"pipeline": {"concurrency": "many"}}'),
      ]);
      expectOneLineFailure(invalid, '/pipeline/concurrency', 'unknown property "surprise"');
      expectOneLineFailure(missingVar, 'HUB_TEST_UNSET_VARIABLE', '/identity/defaultCountry');
      expectOneLineFailure(missingFile, '/nonexistent.yaml', 'HUB_CONFIG');
      expectOneLineFailure(badYaml, 'hub.yaml', 'YAML', 'line 3');
      expectOneLineFailure(badJson, '/pipeline/concurrency');
    });
  });

  describe('roles and arguments', () => {
    it('refuses --role api / --role worker without DATABASE_URL, an unknown role and an unknown option', async (ctx) => {
      const t = scope(ctx);
      const env = await t.hubEnv();
      const [worker, apiOnly, nonsense, unknownOption] = await Promise.all([
        t.run({ env, args: ['--role', 'worker'] }),
        t.run({ env, args: ['--role', 'api'] }),
        t.run({ env, args: ['--role', 'nonsense'] }),
        t.run({ env, args: ['--port', '8080'] }),
      ]);
      expectOneLineFailure(worker, 'DATABASE_URL', 'PostgreSQL');
      expectOneLineFailure(apiOnly, 'DATABASE_URL', 'PostgreSQL');
      expectOneLineFailure(nonsense, '--role', 'nonsense');
      expectOneLineFailure(unknownOption, '--port');
    });

    it('exits 1 naming PORT when the port is taken', async (ctx) => {
      const t = scope(ctx);
      const { url } = await t.freshSchema();
      const taken: Server = createServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
      t.defer(() => new Promise((resolve) => taken.close(resolve)));
      const port = (taken.address() as { port: number }).port;
      const run = await t.run({ env: { ...(await t.hubEnv()), DATABASE_URL: url, PORT: String(port) }, args: ['--role', 'api'] });
      expectOneLineFailure(run, 'PORT', String(port));
    });
  });

  describe('scale-out on PostgreSQL', () => {
    it('exits 1 naming DATABASE_URL (without its password) when PostgreSQL is unreachable or refuses', async (ctx) => {
      const t = scope(ctx);
      const nobody = await freePort();
      const noDb = new URL(DATABASE_URL);
      noDb.pathname = '/no_such_database_for_crm_hub';
      noDb.password = 'pg-secret-77';
      const [unreachable, missing] = await Promise.all([
        t.hubEnv().then((env) => t.run({ env: { ...env, DATABASE_URL: `postgres://postgres:pg-secret-77@127.0.0.1:${nobody}/test` }, args: ['--role', 'worker'] })),
        t.hubEnv().then((env) => t.run({ env: { ...env, DATABASE_URL: noDb.toString() }, args: ['--role', 'api'] })),
      ]);
      expectOneLineFailure(unreachable, 'DATABASE_URL', 'not reachable');
      expectOneLineFailure(missing, 'DATABASE_URL', 'no_such_database_for_crm_hub');
      expect(unreachable.stderr + missing.stderr).not.toContain('pg-secret-77');
    });

    it('runs --role api and --role worker as two processes that share Redis and the database', HEAVY, async (ctx) => {
      const t = scope(ctx);
      const { schema, url, admin } = await t.freshSchema();
      const prefix = t.queuePrefix();
      const apiEnv = await t.hubEnv({ DATABASE_URL: url, HUB_QUEUE_PREFIX: prefix });
      const workerEnv = await t.hubEnv({ DATABASE_URL: url, HUB_QUEUE_PREFIX: prefix });
      const t0 = Date.now();
      const apiHub = t.spawn({ env: apiEnv, args: ['--role', 'api'] });
      const workerHub = t.spawn({ env: workerEnv, args: ['--role', 'worker'] });
      const [apiStarted, workerStarted] = await Promise.all([apiHub.waitForLog('crm-hub started'), workerHub.waitForLog('crm-hub started')]);
      const startupMs = Date.now() - t0;
      expect(apiStarted).toMatchObject({ role: 'api', store: 'postgres', http: true });
      expect(workerStarted).toMatchObject({ role: 'worker', store: 'postgres', http: true });

      const call = api(apiEnv);
      expect((await call('POST', '/v1/records', contact('so-1', 'scale@example.com'))).status).toBe(202);
      const status = await processed(call, 'web', 'so-1');

      // The worker answers on its own PORT: liveness, readiness, and the counters only it holds; no API.
      const onWorker = api(workerEnv);
      expect((await onWorker('GET', '/health')).status).toBe(200);
      expect((await onWorker('GET', '/ready')).status).toBe(200);
      expect((await onWorker('GET', '/v1/profiles')).status).toBe(404);
      const processedLine = /^crm_hub_records_processed_total\{source="web"\} (\d+)$/m;
      // The record's row commits a moment before the worker counts it.
      let workerMetrics = await onWorker('GET', '/metrics');
      for (let i = 0; i < 50 && !processedLine.test(workerMetrics.text); i++) {
        await new Promise((r) => setTimeout(r, 100));
        workerMetrics = await onWorker('GET', '/metrics');
      }
      expect(workerMetrics.status).toBe(200);
      expect(workerMetrics.text.match(processedLine)?.[1], workerMetrics.text).toBe('1');
      expect((await call('GET', '/metrics')).text).not.toMatch(processedLine);
      // The tables are in the test's schema, not in public.
      const { rows } = await admin.query(`SELECT profile_id FROM ${schema}.records WHERE source = 'web' AND source_id = 'so-1'`);
      expect(rows).toEqual([{ profile_id: status['profileId'] }]);

      // A second worker with no PORT, as beside an API on one machine: it serves no HTTP, so it
      // cannot take the API's port. (Started last: it would share the record above.)
      const { PORT: _port, ...quietEnv } = await t.hubEnv({ DATABASE_URL: url, HUB_QUEUE_PREFIX: prefix });
      const quietHub = t.spawn({ env: quietEnv, args: ['--role', 'worker'] });
      expect(await quietHub.waitForLog('crm-hub started')).toMatchObject({ role: 'worker', store: 'postgres', http: false });

      await Promise.all([expectCleanStop(apiHub), expectCleanStop(workerHub), expectCleanStop(quietHub)]);
      expect(apiHub.stdout + apiHub.stderr + workerHub.stdout + workerHub.stderr + quietHub.stdout + quietHub.stderr).not.toContain(API_KEY);
      console.info(`scale-out: api and worker started in ${startupMs} ms`);
    });
  });
});
