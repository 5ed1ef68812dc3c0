import { createHash, randomUUID } from 'node:crypto';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ConnectorConfig } from '../core/config/config.schema.js';
import { HubError, isHubError } from '../core/errors.js';
import type { IngestQueue } from '../core/pipeline/ingest.queue.js';
import type { HubRecord } from '../core/record.schema.js';
import { fieldErrors } from '../core/api/problem.js';
import { validateRecordsBody } from '../core/record.validate.js';
import { compileMapping, type CompiledMapping, type MappingResult } from '../mappings/compile.js';
import type { MappingDocument } from '../mappings/mapping.schema.js';
import type { Connector, ConnectorContext, PollFailure, WebhookEvent, WebhookReply, WebhookRequest } from './connector.js';
import type { ConnectorStore } from './connector.store.js';
import { createHttpClient, type BreakerState, type HttpClient } from './http-client.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
addFormats(ajv);

export const EVENTS_QUEUE = 'connector-events';
export const POLLS_QUEUE = 'connector-polls';
const MAX_PAGES_PER_POLL = 100;
const POLL_LOCK_MS = 10 * 60_000;
const BREAKER_REPORT_TTL_MS = 10 * 60_000;

/** `failure`: something a poll could not read (PollOutcome.failures); the job fails at once with it, to sit in the failed set. */
type EventJob = { connectorId: string; event: WebhookEvent; receivedAt: string; failure?: string };
type PollJob = { connectorId: string };

export type ConnectorInstance = {
  id: string;
  enabled: boolean;
  connector: Connector;
  mapping: CompiledMapping;
  context: ConnectorContext<unknown>;
  pollEveryMs: number | null;
};

export type ConnectorStatus = {
  id: string;
  type: string;
  enabled: boolean;
  mode: ('webhook' | 'poll')[];
  status: 'ok' | 'error' | 'idle' | 'disabled';
  lastRunAt: string | null;
  lastError: string | null;
  stats: { received: number; processed: number; failed: number };
  breaker: BreakerState;
  mapping: { name: string; version: number };
};

/** Resolves and checks every configured connector against its type; a problem names the config path. */
export function resolveConnectorConfigs(
  configs: readonly ConnectorConfig[],
  registry: ReadonlyMap<string, Connector>,
): { config: ConnectorConfig; connector: Connector; settings: unknown; mapping: CompiledMapping }[] {
  return configs.map((config, i) => {
    const connector = registry.get(config.type);
    if (!connector) {
      throw new HubError('CONFIG_INVALID', `invalid config: /connectors/${i}/type: unknown connector type "${config.type}"; known types: ${[...registry.keys()].sort().join(', ')}`);
    }
    const settings = structuredClone(config.settings);
    const validate = ajv.compile(connector.settingsSchema);
    if (!validate(settings)) {
      const errors = fieldErrors(validate.errors ?? [], `/connectors/${i}/settings`);
      throw new HubError('CONFIG_INVALID', `invalid config: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, { errors });
    }
    if (connector.mappingRequired && config.mapping === undefined) {
      throw new HubError('CONFIG_INVALID', `invalid config: /connectors/${i}/mapping: ${config.type} needs a mapping (a mapping document) to turn what it reads into records`);
    }
    let document: MappingDocument | undefined;
    if (typeof config.mapping === 'string') {
      document = connector.mappings.find((m) => m.name === config.mapping);
      if (!document) {
        throw new HubError('CONFIG_INVALID', `invalid config: /connectors/${i}/mapping: "${config.mapping}" is not a mapping of ${config.type}; it has: ${connector.mappings.map((m) => m.name).join(', ')}`);
      }
    } else {
      document = config.mapping ?? connector.mappings[0];
    }
    return { config, connector, settings, mapping: document ? compileMapping(document) : CANONICAL };
  });
}

/** For connectors without a mapping: the payload already is a record or `{records: [...]}`, as for POST /v1/records. */
const CANONICAL: CompiledMapping = {
  name: 'canonical',
  version: 1,
  apply(payload) {
    const checked = validateRecordsBody(payload);
    return 'value' in checked ? { records: checked.value, errors: [] } : { records: [], errors: checked.error.errors ?? [{ path: '/', message: checked.error.message }] };
  },
};

export type ConnectorRuntimeDeps = {
  configs: readonly ConnectorConfig[];
  registry: ReadonlyMap<string, Connector>;
  /** Fails fast (API side); used for queue writes. */
  redis: Redis;
  /** Waits through outages; used by workers. Null in an API-only process. */
  workerRedis: Redis | null;
  prefix: string;
  store: ConnectorStore;
  ingest: Pick<IngestQueue, 'enqueue'>;
  log: Logger;
  attempts: number;
  backoffMs: number;
};

function jobIdFor(connectorId: string, eventId: string): string {
  return `${connectorId}-${createHash('sha256').update(eventId).digest('hex').slice(0, 40)}`;
}

function stamp(records: HubRecord[]) {
  const receivedAt = new Date().toISOString();
  return records.map((r) => ({ ...r, receivedAt }));
}

/** The connectors of one hub process: webhooks in, events and polls through BullMQ, records into the ingest queue. */
export function createConnectorRuntime(deps: ConnectorRuntimeDeps) {
  const resolved = resolveConnectorConfigs(deps.configs, deps.registry);
  const breakersKey = `${deps.prefix}:connectors:breakers`;
  const clients = new Map<string, HttpClient>();
  const events = new Queue<EventJob>(EVENTS_QUEUE, { connection: deps.redis, prefix: deps.prefix });
  const polls = new Queue<PollJob>(POLLS_QUEUE, { connection: deps.redis, prefix: deps.prefix });
  events.on('error', () => undefined);
  polls.on('error', () => undefined);
  const jobOptions = { attempts: deps.attempts, backoff: { type: 'exponential', delay: deps.backoffMs }, removeOnComplete: { count: 1000 }, removeOnFail: false } as const;

  const instances = new Map<string, ConnectorInstance>(
    resolved.map(({ config, connector, settings, mapping }) => {
      const log = deps.log.child({ component: 'connector', connectorId: config.id });
      const context: ConnectorContext<unknown> = {
        id: config.id,
        settings,
        log,
        http(endpoint, options) {
          const key = `${config.id}\u0000${endpoint}`;
          let client = clients.get(key);
          if (!client) {
            client = createHttpClient({
              name: `${config.id}/${endpoint}`,
              log,
              ...options,
              onStateChange: (state) => void deps.redis.hset(breakersKey, key, `${state}@${Date.now()}`).catch(() => undefined),
            });
            clients.set(key, client);
          }
          return client;
        },
        memory: {
          async get(key) {
            const raw = await (deps.workerRedis ?? deps.redis).get(`${deps.prefix}:connectors:memory:${config.id}:${key}`);
            return raw === null ? undefined : (JSON.parse(raw) as unknown);
          },
          async set(key, value, ttlSeconds) {
            await (deps.workerRedis ?? deps.redis).set(`${deps.prefix}:connectors:memory:${config.id}:${key}`, JSON.stringify(value), 'EX', ttlSeconds);
          },
        },
      };
      const pollEveryMs = connector.poll ? (config.pollEveryMs ?? connector.poll.everyMs) : null;
      return [config.id, { id: config.id, enabled: config.enabled, connector, mapping, context, pollEveryMs }];
    }),
  );

  function instance(id: string): ConnectorInstance {
    const found = instances.get(id);
    if (!found) throw new HubError('NOT_FOUND', `no connector "${id}" is configured`);
    return found;
  }

  /** Maps payloads to records; a payload the mapping cannot turn into valid records is an error that retrying will not fix. */
  function mapAll(inst: ConnectorInstance, payloads: unknown[]): HubRecord[] {
    const records: HubRecord[] = [];
    for (const payload of payloads) {
      const result = inst.mapping.apply(payload);
      if (result.errors.length > 0) {
        throw new HubError('VALIDATION', `mapping ${inst.mapping.name} v${inst.mapping.version} made invalid records: ${result.errors.map((e) => `${e.path} ${e.message}`).join('; ')}`, { errors: result.errors });
      }
      records.push(...result.records);
    }
    return records;
  }

  /** Verifies and accepts a webhook delivery: its events are queued (a redelivered event id is ignored), then the provider gets its answer. */
  async function receive(id: string, request: WebhookRequest): Promise<WebhookReply> {
    const inst = instance(id);
    const webhook = inst.connector.webhook;
    if (!webhook || !inst.enabled) throw new HubError('NOT_FOUND', `connector "${id}" takes no webhooks`);
    await webhook.verify(inst.context, request);
    const accepted = await webhook.accept(inst.context, request);
    if (accepted.events.length > 0) {
      const receivedAt = new Date().toISOString();
      try {
        await events.addBulk(accepted.events.map((event) => ({ name: inst.connector.type, data: { connectorId: id, event, receivedAt }, opts: { ...jobOptions, jobId: jobIdFor(id, event.id) } })));
      } catch (cause) {
        throw new HubError('QUEUE_UNAVAILABLE', 'the queue (Redis) is not reachable; nothing was accepted', { cause });
      }
      await deps.store.count(id, { received: accepted.events.length }).catch((err: unknown) => inst.context.log.warn({ err }, 'could not count received events'));
    }
    return accepted.reply ?? { status: 202, contentType: 'application/json', body: JSON.stringify({ accepted: accepted.events.length }) };
  }

  async function processEvent(job: Job<EventJob>): Promise<{ records: number }> {
    const inst = instance(job.data.connectorId);
    try {
      if (job.data.failure !== undefined) throw new HubError('VALIDATION', job.data.failure);
      const payloads = inst.connector.prepare ? await inst.connector.prepare(inst.context, job.data.event) : [job.data.event.payload];
      const records = mapAll(inst, payloads);
      if (records.length > 0) await deps.ingest.enqueue(stamp(records));
      await deps.store.count(inst.id, { processed: records.length });
      await deps.store.ran(inst.id, null);
      return { records: records.length };
    } catch (err) {
      const final = !(isHubError(err) && err.retryable) || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (final) {
        await deps.store.count(inst.id, { failed: 1 }).catch(() => undefined);
        await deps.store.ran(inst.id, (err as Error).message).catch(() => undefined);
      }
      if (isHubError(err) && !err.retryable) throw new UnrecoverableError(err.message);
      throw err;
    }
  }

  const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
  // Aborted when the poll worker starts closing: a poll waiting for news (IMAP IDLE) returns at once.
  const stopping = new AbortController();

  async function queueFailures(inst: ConnectorInstance, failures: PollFailure[]): Promise<void> {
    const receivedAt = new Date().toISOString();
    try {
      await events.addBulk(failures.map((f) => ({ name: inst.connector.type, data: { connectorId: inst.id, event: { id: f.id, payload: f.payload }, receivedAt, failure: f.error }, opts: { ...jobOptions, attempts: 1, jobId: jobIdFor(inst.id, f.id) } })));
    } catch (cause) {
      throw new HubError('QUEUE_UNAVAILABLE', 'the queue (Redis) is not reachable; the poll stops here and reads the same items again next time', { cause });
    }
  }

  /** One poll of one connector, page after page; at most one at a time per connector across the cluster. */
  async function processPoll(job: Job<PollJob>): Promise<{ pages: number; records: number } | { skipped: string }> {
    const inst = instance(job.data.connectorId);
    const poll = inst.connector.poll;
    if (!poll || !inst.enabled) return { skipped: 'not a poller or disabled' };
    const redis = deps.workerRedis ?? deps.redis;
    const lockKey = `${deps.prefix}:connectors:poll-lock:${inst.id}`;
    const token = randomUUID();
    if ((await redis.set(lockKey, token, 'PX', POLL_LOCK_MS, 'NX')) !== 'OK') return { skipped: 'another worker is polling this connector' };
    let pages = 0;
    let total = 0;
    const run = { signal: stopping.signal, startedAt: Date.now(), everyMs: inst.pollEveryMs ?? poll.everyMs };
    try {
      const state = await deps.store.get(inst.id);
      let checkpoint = state?.checkpoint === undefined || state.checkpoint === null ? null : poll.readCheckpoint(state.checkpoint);
      if (state?.checkpoint && checkpoint === null) inst.context.log.warn({ checkpoint: state.checkpoint }, 'stored checkpoint is not valid for this connector; starting over');
      for (;;) {
        const outcome = await poll.run(inst.context, checkpoint, run);
        const records = mapAll(inst, outcome.payloads);
        if (records.length > 0) await deps.ingest.enqueue(stamp(records));
        if (outcome.failures?.length) await queueFailures(inst, outcome.failures);
        // Only now, with the records durable in Redis, may the checkpoint move past them.
        await deps.store.saveCheckpoint(inst.id, outcome.checkpoint);
        await deps.store.count(inst.id, { received: outcome.payloads.length + (outcome.failures?.length ?? 0), processed: records.length });
        checkpoint = outcome.checkpoint;
        pages += 1;
        total += records.length;
        if (!outcome.more || pages >= MAX_PAGES_PER_POLL) break;
        await redis.pexpire(lockKey, POLL_LOCK_MS);
      }
      await deps.store.ran(inst.id, null);
      return { pages, records: total };
    } catch (err) {
      await deps.store.ran(inst.id, (err as Error).message).catch(() => undefined);
      if (isHubError(err) && !err.retryable) throw new UnrecoverableError(err.message);
      throw err;
    } finally {
      await redis.eval(RELEASE, 1, lockKey, token).catch(() => undefined);
    }
  }

  function startWorkers(concurrency: number): Worker[] {
    if (!deps.workerRedis) return [];
    const eventWorker = new Worker<EventJob>(EVENTS_QUEUE, processEvent, { connection: deps.workerRedis, prefix: deps.prefix, concurrency });
    // A poll may hold its slot for its whole interval (IMAP IDLE), and the poll lock allows one per connector anyway: a slot per poller.
    const pollers = [...instances.values()].filter((i) => i.pollEveryMs !== null).length;
    const pollWorker = new Worker<PollJob>(POLLS_QUEUE, processPoll, { connection: deps.workerRedis, prefix: deps.prefix, concurrency: Math.max(1, Math.min(concurrency, instances.size), pollers) });
    pollWorker.on('closing', () => stopping.abort());
    for (const w of [eventWorker, pollWorker]) {
      w.on('failed', (job, err) => deps.log.warn({ err, jobId: job?.id, queue: w.name, connectorId: job?.data.connectorId }, 'connector job failed'));
      w.on('error', (err) => deps.log.error({ err, queue: w.name }, 'connector worker error'));
    }
    return [eventWorker, pollWorker];
  }

  /** Puts each enabled poller on a BullMQ job scheduler (one schedule per connector across the cluster) and removes stale ones. */
  async function schedulePolls(): Promise<void> {
    const wanted = [...instances.values()].filter((i) => i.enabled && i.pollEveryMs !== null);
    for (const inst of wanted) {
      await polls.upsertJobScheduler(inst.id, { every: inst.pollEveryMs ?? 60_000 }, { name: 'poll', data: { connectorId: inst.id }, opts: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } } });
    }
    const ids = new Set(wanted.map((i) => i.id));
    for (const scheduler of await polls.getJobSchedulers()) {
      if (scheduler.key && !ids.has(scheduler.key)) await polls.removeJobScheduler(scheduler.key);
    }
  }

  async function runNow(id: string): Promise<void> {
    const inst = instance(id);
    if (!inst.connector.poll) throw new HubError('CONFLICT', `connector "${id}" (${inst.connector.type}) does not poll; it receives webhooks at /v1/webhooks/${id}`);
    if (!inst.enabled) throw new HubError('CONFLICT', `connector "${id}" is disabled in the config`);
    await polls.add('poll', { connectorId: id }, { jobId: `run-${id}-${Date.now()}`, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } });
  }

  async function test(id: string): Promise<{ ok: boolean; message: string }> {
    const inst = instance(id);
    if (!inst.connector.test) return { ok: true, message: `${inst.connector.type} has no connection to test: it receives webhooks at /v1/webhooks/${id}` };
    try {
      return { ok: true, message: await inst.connector.test(inst.context) };
    } catch (err) {
      return { ok: false, message: (err as Error).message };
    }
  }

  async function statuses(): Promise<ConnectorStatus[]> {
    const [states, breakers] = await Promise.all([deps.store.list(), deps.redis.hgetall(breakersKey).catch(() => ({}) as Record<string, string>)]);
    return [...instances.values()].map((inst) => {
      const state = states.get(inst.id);
      // An open breaker reports again each time it half-opens; a report older than that is from a process
      // that stopped or a breaker nobody has called since, and no longer tells anything.
      const fresh = Date.now() - BREAKER_REPORT_TTL_MS;
      const mine = Object.entries(breakers)
        .filter(([k]) => k.startsWith(`${inst.id}\u0000`))
        .map(([, v]) => v.split('@'))
        .filter(([, at]) => Number(at) >= fresh)
        .map(([state]) => state);
      const breaker: BreakerState = mine.includes('open') ? 'open' : mine.includes('halfOpen') ? 'halfOpen' : 'closed';
      const errored = state?.lastErrorAt && state.lastRunAt && state.lastErrorAt >= state.lastRunAt;
      return {
        id: inst.id,
        type: inst.connector.type,
        enabled: inst.enabled,
        mode: [...(inst.connector.webhook ? (['webhook'] as const) : []), ...(inst.connector.poll ? (['poll'] as const) : [])],
        status: !inst.enabled ? 'disabled' : errored || breaker === 'open' ? 'error' : state?.lastRunAt ? 'ok' : 'idle',
        lastRunAt: state?.lastRunAt ?? null,
        lastError: state?.lastError ?? null,
        stats: { received: state?.received ?? 0, processed: state?.processed ?? 0, failed: state?.failed ?? 0 },
        breaker,
        mapping: { name: inst.mapping.name, version: inst.mapping.version },
      };
    });
  }

  /** What a payload would become, without storing anything. */
  function preview(input: { connectorId?: string; mapping?: MappingDocument; payload: unknown }): MappingResult {
    const mapping = input.mapping ? compileMapping(input.mapping) : instance(input.connectorId ?? '').mapping;
    return mapping.apply(input.payload);
  }

  let closing: Promise<void> | undefined;
  return {
    instances,
    queues: [events, polls],
    receive,
    startWorkers,
    schedulePolls,
    runNow,
    test,
    statuses,
    preview,
    close() {
      closing ??= (async () => {
        for (const client of clients.values()) client.close();
        await Promise.allSettled([events.close(), polls.close()]);
      })();
      return closing;
    },
  };
}

export type ConnectorRuntime = ReturnType<typeof createConnectorRuntime>;
