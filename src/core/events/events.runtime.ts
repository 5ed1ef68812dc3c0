import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { HubConfig } from '../config/config.schema.js';
import type { Db } from '../store/db.js';
import { HubError } from '../errors.js';
import { every } from '../every.js';
import { runScheduledAlerts, type Fold } from './alerts.js';
import { createDeliveries } from './delivery.js';
import { relayOnce } from './relay.js';
import { createSubscriptionStore } from './subscription.store.js';
import { createUrlGuard } from './url-guard.js';

export const ALERT_CHECKS_QUEUE = 'alert-checks';
const ALERT_SCHEDULER = 'scheduled-alerts';
// One relay round reads at most this many batches, so a backlog does not starve the sweep or shutdown.
const MAX_BATCHES_PER_ROUND = 20;

export type EventsRuntimeDeps = {
  db: Db;
  config: Pick<HubConfig, 'events' | 'alerts'>;
  /** Queue writes from the API (redeliveries, re-enabled subscriptions). */
  redis: Redis;
  /** Null in an API-only process: then nothing relays or delivers here. */
  workerRedis: Redis | null;
  prefix: string;
  log: Logger;
  /** Brings the report rollups up to date: the inactive rule reads their last interaction per profile. */
  fold: Fold;
};

/** Outbound events: the subscription store, the relay from the outbox, deliveries and scheduled alerts. */
export function createEventsRuntime(deps: EventsRuntimeDeps) {
  const { db, config, log } = deps;
  const names = new Set<string>();
  for (const [i, rule] of config.alerts.entries()) {
    if (names.has(rule.name)) throw new HubError('CONFIG_INVALID', `invalid config: /alerts/${i}/name: duplicate alert name "${rule.name}"`);
    names.add(rule.name);
  }
  const store = createSubscriptionStore(db);
  const urls = createUrlGuard({ allowPrivate: config.events.allowPrivateUrls });
  const deliveries = createDeliveries({ db, redis: deps.redis, prefix: deps.prefix, options: config.events, guard: urls, log: log.child({ component: 'deliveries' }) });
  const alertChecks = new Queue(ALERT_CHECKS_QUEUE, { connection: deps.redis, prefix: deps.prefix });
  alertChecks.on('error', () => undefined);
  const scheduled = config.alerts.filter((r) => r.kind === 'missedCallNoCallback' || r.kind === 'inactive');
  const workers: Worker[] = [];
  const loops: { stop(): Promise<void> }[] = [];

  async function relay(): Promise<void> {
    for (let i = 0; i < MAX_BATCHES_PER_ROUND; i += 1) {
      const result = await relayOnce(db, { batch: config.events.relayBatch, alerts: config.alerts });
      await deliveries.kickLanes(result.lanes);
      // A batch with events left for another relayer also ends the round: they are its to move.
      if (result.read < config.events.relayBatch || result.relayed < result.read) return;
    }
  }

  return {
    store,
    deliveries,
    /** Checks subscription URLs against the hub's own network (url-guard.ts). */
    urls,
    queues: [deliveries.queue, alertChecks],
    /** Starts the relay, the sweep, the delivery worker and the alert schedule (roles all and worker). */
    async start(): Promise<void> {
      if (!deps.workerRedis) return;
      const workerLog = log.child({ component: 'events' });
      // One schedule across the cluster; a config without scheduled rules removes it.
      if (scheduled.length > 0) {
        await alertChecks.upsertJobScheduler(ALERT_SCHEDULER, { every: config.events.alertCheckEveryMs }, { name: 'check', opts: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } } });
      } else {
        await alertChecks.removeJobScheduler(ALERT_SCHEDULER);
      }
      workers.push(deliveries.startWorker(deps.workerRedis));
      const alertWorker = new Worker(ALERT_CHECKS_QUEUE, async () => ({ fired: await runScheduledAlerts(db, scheduled, deps.fold) }), { connection: deps.workerRedis, prefix: deps.prefix, concurrency: 1 });
      alertWorker.on('error', (err) => workerLog.error({ err }, 'alert worker error'));
      alertWorker.on('failed', (_job, err) => workerLog.warn({ err }, 'scheduled alert check failed'));
      workers.push(alertWorker);
      loops.push(every(config.events.relayEveryMs, relay, (err) => workerLog.warn({ err }, 'relay round failed; will try again')));
      loops.push(
        every(
          config.events.sweepEveryMs,
          async () => {
            await deliveries.kick(await deliveries.heads());
            await deliveries.prune(config.events.keepDeliveriesDays);
          },
          (err) => workerLog.warn({ err }, 'delivery sweep failed; will try again'),
        ),
      );
    },
    /** Stops the loops and lets the workers finish their jobs. */
    async stop(): Promise<void> {
      await Promise.all(loops.map((l) => l.stop()));
      await Promise.all(workers.map((w) => w.close()));
    },
    async close(): Promise<void> {
      await Promise.allSettled([deliveries.close(), alertChecks.close()]);
    },
  };
}

export type EventsRuntime = ReturnType<typeof createEventsRuntime>;
