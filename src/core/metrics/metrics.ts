import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Queue } from 'bullmq';
import type { ReceivedRecord } from '../record.schema.js';

/** One sample of a gauge computed at scrape time. */
export type GaugeSample = { labels: Record<string, string>; value: number };

/** Where the scrape-time gauges read from; set once the parts exist (queues are made after the metrics). */
export type MetricSources = {
  queues?: readonly Queue[];
  /** Connector breaker states, as GET /v1/connectors reports them. */
  breakers?: () => Promise<readonly { id: string; breaker: 'closed' | 'open' | 'halfOpen' }[]>;
  /** Merges the store has recorded (profile_merges rows): counted in the store, so every process agrees. */
  merges?: () => Promise<number>;
};

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;
const BREAKER_STATES = ['closed', 'open', 'halfOpen'] as const;
// received→stored: from milliseconds on an idle hub to minutes behind a backlog.
const LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Gauges that parts built on other branches add with `addGauge` once merged (review pairs, webhook
 * deliveries); docs/grafana/crm-hub.json already charts them under these names.
 */
export const PLANNED_GAUGES = {
  reviewPairs: { name: 'crm_hub_review_pairs', help: 'Duplicate review pairs by status (open, merged, dismissed)', labelNames: ['status'] },
  webhookDeliveries: { name: 'crm_hub_webhook_deliveries', help: 'Outbound webhook deliveries by status', labelNames: ['status'] },
} as const;

/**
 * The metrics of one hub, in a registry of its own (never prom-client's global one: the tests run
 * many hubs in one process). Counters count what this process did; gauges are read at scrape time.
 */
export function createMetrics(options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  let sources: MetricSources = {};

  const recordsReceived = new Counter({ name: 'crm_hub_records_received_total', help: 'Records accepted into the ingest queue (API, forms, connectors)', labelNames: ['source'], registers });
  const recordsProcessed = new Counter({ name: 'crm_hub_records_processed_total', help: 'Records resolved into the profile store by this worker', labelNames: ['source'], registers });
  const recordsFailed = new Counter({ name: 'crm_hub_records_failed_total', help: 'Records whose job ended in the failed set (dead letters)', labelNames: ['source'], registers });
  const pipelineLatency = new Histogram({
    name: 'crm_hub_pipeline_latency_seconds',
    help: 'Time from a record being received to it being stored',
    labelNames: ['source'],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const httpRequests = new Histogram({
    name: 'crm_hub_http_request_duration_seconds',
    help: 'HTTP requests by method, route pattern and status code; _count is the request count',
    labelNames: ['method', 'route', 'status_code'],
    buckets: HTTP_BUCKETS,
    registers,
  });

  /** A gauge whose samples are computed at each scrape; a failing source leaves it empty rather than failing the scrape. */
  function addGauge(name: string, help: string, labelNames: readonly string[], collect: () => Promise<readonly GaugeSample[]> | readonly GaugeSample[]): Gauge {
    return new Gauge({
      name,
      help,
      labelNames,
      registers,
      async collect() {
        this.reset();
        let samples: readonly GaugeSample[];
        try {
          samples = await collect();
        } catch {
          return;
        }
        for (const s of samples) this.set(s.labels, s.value);
      },
    });
  }

  addGauge('crm_hub_queue_jobs', 'Jobs per BullMQ queue and state', ['queue', 'state'], async () => {
    const counts = await Promise.all(
      (sources.queues ?? []).map(async (queue) => {
        const c = await queue.getJobCounts(...QUEUE_STATES, 'prioritized');
        return QUEUE_STATES.map((state) => ({
          labels: { queue: queue.name, state },
          // BullMQ keeps prioritized jobs apart; to an operator they are waiting.
          value: (c[state] ?? 0) + (state === 'waiting' ? (c['prioritized'] ?? 0) : 0),
        }));
      }),
    );
    return counts.flat();
  });
  addGauge('crm_hub_connector_breaker_state', 'Circuit breaker of each connector: 1 for its current state, 0 for the others', ['connector', 'state'], async () =>
    (await (sources.breakers?.() ?? [])).flatMap((c) => BREAKER_STATES.map((state) => ({ labels: { connector: c.id, state }, value: c.breaker === state ? 1 : 0 }))),
  );
  // A counter read from the store: it only grows (an erased profile's merges aside, which Prometheus treats as a reset).
  new Counter({
    name: 'crm_hub_merges_total',
    help: 'Profile merges recorded in the store (automatic and manual)',
    registers,
    async collect() {
      if (!sources.merges) return;
      try {
        const total = await sources.merges();
        this.reset();
        this.inc(total);
      } catch {
        // The store is unreachable: keep the last value.
      }
    },
  });

  function countRecords(counter: Counter, records: readonly Pick<ReceivedRecord, 'source'>[]) {
    const bySource = new Map<string, number>();
    for (const r of records) bySource.set(r.source, (bySource.get(r.source) ?? 0) + 1);
    for (const [source, n] of bySource) counter.inc({ source }, n);
  }

  return {
    registry,
    recordsReceived,
    recordsProcessed,
    recordsFailed,
    pipelineLatency,
    httpRequests,
    addGauge,
    /** Names the parts the scrape-time metrics read. */
    track(next: MetricSources) {
      sources = { ...sources, ...next };
    },
    /** Records accepted into the ingest queue. */
    received(records: readonly Pick<ReceivedRecord, 'source'>[]) {
      countRecords(recordsReceived, records);
    },
    /** Records stored, with their received→stored latency. */
    stored(records: readonly Pick<ReceivedRecord, 'source' | 'receivedAt'>[]) {
      const now = Date.now();
      for (const r of records) {
        const received = Date.parse(r.receivedAt);
        if (Number.isFinite(received)) pipelineLatency.observe({ source: r.source }, Math.max(0, now - received) / 1000);
      }
      countRecords(recordsProcessed, records);
    },
    /** Records whose job failed for good. */
    failed(records: readonly Pick<ReceivedRecord, 'source'>[]) {
      countRecords(recordsFailed, records);
    },
  };
}

export type HubMetrics = ReturnType<typeof createMetrics>;
