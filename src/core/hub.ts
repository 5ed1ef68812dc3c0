import type { FastifyInstance } from 'fastify';
import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { HubConfig } from './config/config.schema.js';
import { createKeyRing } from './api/auth.js';
import { buildApp } from './api/app.js';
import { buildOperationsApp } from './api/operations-app.js';
import { createRedis } from './redis.js';
import type { Db } from './store/db.js';
import { migrate } from './store/migrate.js';
import { createProfileStore, type ProfileStore } from './store/profile.store.js';
import { resolveOptions } from './identity/resolve-options.js';
import { createCurationStore } from './store/curation.store.js';
import { createIngestQueue, type IngestQueue } from './pipeline/ingest.queue.js';
import { createIngestWorker } from './pipeline/ingest.worker.js';
import { createConnectorRuntime, type ConnectorRuntime } from '../connectors/runtime.js';
import { createConnectorStore } from '../connectors/connector.store.js';
import { CONNECTOR_TYPES } from '../connectors/registry.js';
import type { Connector } from '../connectors/connector.js';
import { createMetrics, PLANNED_GAUGES, type HubMetrics } from './metrics/metrics.js';
import { createReportsStore } from './reports/reports.store.js';
import { createAuditStore } from './audit/audit.store.js';
import { createErasureStore } from './erasure/erasure.store.js';
import { createErasureGuard } from './erasure/erasure.guard.js';
import { createQueueScrubber } from './erasure/erasure.queues.js';
import { createErasureService } from './erasure/erasure.service.js';
import { createEventsRuntime, type EventsRuntime } from './events/events.runtime.js';
import { every } from './every.js';

export type Role = 'all' | 'api' | 'worker';
export const ROLES: readonly Role[] = ['all', 'api', 'worker'];

export type HubOptions = {
  role: Role;
  config: HubConfig;
  db: Db;
  redisUrl: string;
  /** BullMQ and rate-limit key prefix. */
  prefix: string;
  bootstrapKey?: string;
  log: Logger;
  /** Replaces the store the worker writes through (tests inject faults here). */
  workerStore?: Pick<ProfileStore, 'resolveBatch'>;
  /** Connector types; default: the built-in registry. */
  connectorTypes?: ReadonlyMap<string, Connector>;
  /** Default: a registry of this hub's own. */
  metrics?: HubMetrics;
};

export type Hub = {
  /** The HTTP API; null on a worker. */
  app: FastifyInstance | null;
  /** What a worker serves over HTTP instead: /health, /ready and /metrics; null where `app` serves them. */
  operations: FastifyInstance | null;
  worker: Worker | null;
  ingest: IngestQueue;
  connectors: ConnectorRuntime;
  store: ProfileStore;
  metrics: HubMetrics;
  events: EventsRuntime;
  /** Stops intake, lets workers finish their jobs, then closes queues, Redis and the database. */
  close(): Promise<void>;
};

/** The composition root shared by `main.ts` and the tests: wires the parts a role needs. */
export async function createHub(options: HubOptions): Promise<Hub> {
  const { config, db, log } = options;
  await migrate(db);
  const identity = resolveOptions(config.identity);
  const store = createProfileStore(db, identity);
  const curation = createCurationStore(db, store);
  const metrics = options.metrics ?? createMetrics();
  const { reviewPairs } = PLANNED_GAUGES;
  metrics.addGauge(reviewPairs.name, reviewPairs.help, reviewPairs.labelNames, async () =>
    (await curation.pairCounts()).map((c) => ({ labels: { status: c.status }, value: c.count })),
  );
  const reports = createReportsStore(db);
  const apiRedis = createRedis(options.redisUrl, 'api');
  const workerRedis: Redis | null = options.role === 'api' ? null : createRedis(options.redisUrl, 'worker');
  let parts: Awaited<ReturnType<typeof wire>>;
  try {
    parts = await wire();
  } catch (err) {
    // A bad connector setting, a route that fails to build: leave no connection open behind.
    apiRedis.disconnect();
    workerRedis?.disconnect();
    throw err;
  }
  const { ingest, connectors, connectorWorkers, worker, events, app, operations } = parts;
  // The report rollups follow the store in the background, so that a report request has little to fold.
  const reportFolds = every(config.reports.foldEveryMs, () => reports.fold({ settleMs: config.reports.foldSettleMs }), (err) => log.warn({ err }, 'report fold failed; will try again'));

  async function wire() {
    const ingest = createIngestQueue(apiRedis, { prefix: options.prefix, ...config.pipeline }, metrics);

    const connectors = createConnectorRuntime({
      configs: config.connectors,
      registry: options.connectorTypes ?? CONNECTOR_TYPES,
      redis: apiRedis,
      workerRedis,
      prefix: options.prefix,
      store: createConnectorStore(db),
      ingest,
      log,
      attempts: config.pipeline.attempts,
      backoffMs: config.pipeline.backoffMs,
    });
    const connectorWorkers = connectors.startWorkers(Math.max(4, Math.ceil(config.pipeline.concurrency / 4)));
    if (workerRedis) await connectors.schedulePolls();

    const erasureStore = createErasureStore(db);
    const erasure = createErasureService({
      store: erasureStore,
      scrubber: createQueueScrubber({ redis: apiRedis, prefix: options.prefix, ingest: ingest.queue, others: connectors.queues, normalize: identity.normalize, log: log.child({ component: 'erasure' }) }),
      ingest,
      normalize: identity.normalize,
      log: log.child({ component: 'erasure' }),
    });

    const worker = workerRedis
      ? createIngestWorker({
          redis: workerRedis,
          prefix: options.prefix,
          concurrency: config.pipeline.concurrency,
          transactionSize: config.pipeline.transactionSize,
          store: options.workerStore ?? store,
          ingest,
          log: log.child({ component: 'ingest-worker' }),
          metrics,
          screen: createErasureGuard({ store: erasureStore, onReturn: config.erasure.onReturn, normalize: identity.normalize, log: log.child({ component: 'erasure' }) }),
        })
      : null;

    const events = createEventsRuntime({ db, config, redis: apiRedis, workerRedis, prefix: options.prefix, log, fold: reports.fold });
    const { webhookDeliveries } = PLANNED_GAUGES;
    metrics.addGauge(webhookDeliveries.name, webhookDeliveries.help, webhookDeliveries.labelNames, async () =>
      (await events.store.deliveryCounts()).map((c) => ({ labels: { status: c.status }, value: c.count })),
    );

    const keys = createKeyRing(config.auth.keys, options.bootstrapKey);
    const checks = [
      { name: 'redis', check: async () => void (await apiRedis.ping()) },
      { name: 'store', check: () => store.ping() },
    ];
    const app =
      options.role === 'worker'
        ? null
        : await buildApp({
            config,
            keys,
            store,
            curation,
            ingest,
            connectors,
            events,
            queues: [ingest.queue, ...connectors.queues, ...events.queues],
            checks,
            log,
            redis: apiRedis,
            prefix: options.prefix,
            metrics,
            reports,
            audit: createAuditStore(db),
            erasure,
          });
    const operations = app ? null : await buildOperationsApp({ checks, log, metrics, keys, requireKey: config.metrics.requireKey });
    metrics.track({ queues: [ingest.queue, ...connectors.queues], breakers: () => connectors.statuses(), merges: () => reports.mergeCount() });

    // The API's Redis connection queues nothing while it connects: wait, so the first request is not a 503.
    await ingest.queue.waitUntilReady();
    // Last: its relay and sweep loops would outlive a start that fails after them.
    await events.start();
    return { ingest, connectors, connectorWorkers, worker, events, app, operations };
  }

  let closing: Promise<void> | undefined;
  async function closeAll() {
    const steps: [string, () => Promise<unknown>][] = [
      ['http', async () => Promise.all([app?.close(), operations?.close()])],
      ['worker', async () => Promise.all([worker?.close(), ...connectorWorkers.map((w) => w.close()), events.stop(), reportFolds.stop()])],
      ['queue', async () => Promise.all([ingest.close(), connectors.close(), events.close()])],
      ['redis', async () => Promise.all([apiRedis.quit().catch(() => apiRedis.disconnect()), workerRedis?.quit().catch(() => workerRedis.disconnect())])],
      ['store', () => db.close()],
    ];
    // Every step runs even if an earlier one fails, so nothing is left open.
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (err) {
        log.warn({ err, step: name }, 'error while closing');
      }
    }
  }
  return {
    app,
    operations,
    worker,
    ingest,
    connectors,
    store,
    metrics,
    events,
    close() {
      closing ??= closeAll();
      return closing;
    },
  };
}
