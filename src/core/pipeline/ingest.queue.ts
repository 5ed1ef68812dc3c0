import { createHash, randomUUID } from 'node:crypto';
import { Queue, Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ReceivedRecord } from '../record.schema.js';
import { HubError } from '../errors.js';
import type { HubMetrics } from '../metrics/metrics.js';

export const INGEST_QUEUE = 'ingest';

export type IngestJobData = { records: ReceivedRecord[] };

export type PipelineOptions = {
  /** BullMQ key prefix; each test run uses its own. */
  prefix: string;
  attempts: number;
  backoffMs: number;
  keepCompleted: number;
};

export type RecordQueueState = { status: 'queued'; record: ReceivedRecord } | { status: 'failed'; error: string; record: ReceivedRecord } | null;

// Deletes a record's entry from the index only if it still names this job: a newer version of the
// record may have been queued meanwhile.
const RELEASE_SCRIPT = `
local n = 0
for i, field in ipairs(ARGV) do
  if i > 1 and redis.call('HGET', KEYS[1], field) == ARGV[1] then
    redis.call('HDEL', KEYS[1], field)
    n = n + 1
  end
end
return n`;

function indexField(source: string, sourceId: string): string {
  return `${source}\u0000${sourceId}`;
}

/**
 * The ingest queue: one job carries a client's batch. A per-record index in Redis names the job
 * that holds the newest queued version of each record, so its status can be told.
 */
export function createIngestQueue(redis: Redis, options: PipelineOptions, metrics?: Pick<HubMetrics, 'received'>) {
  const queue = new Queue<IngestJobData>(INGEST_QUEUE, { connection: redis, prefix: options.prefix });
  queue.on('error', () => undefined);
  const indexKey = `${options.prefix}:${INGEST_QUEUE}:record-jobs`;
  const jobOptions = {
    attempts: options.attempts,
    backoff: { type: 'exponential', delay: options.backoffMs },
    removeOnComplete: { count: options.keepCompleted },
    removeOnFail: false,
  } as const;

  async function add(records: ReceivedRecord[], jobId: string) {
    try {
      const fields = records.flatMap((r) => [indexField(r.source, r.sourceId), jobId]);
      await redis.hset(indexKey, ...fields);
      await queue.add('records', { records }, { ...jobOptions, jobId });
    } catch (cause) {
      if (cause instanceof HubError) throw cause;
      throw new HubError('QUEUE_UNAVAILABLE', 'the queue (Redis) is not reachable; nothing was accepted, send again', { cause });
    }
  }

  return {
    queue,
    /** Durably queues a batch; resolves once Redis has it. */
    async enqueue(records: ReceivedRecord[]): Promise<void> {
      await add(records, randomUUID());
      // Counted here, the one door every intake (API, forms, connectors) goes through; enqueueAlone re-queues, it receives nothing.
      metrics?.received(records);
    },
    /** Queues one record of a failed batch on its own, so that it retries and fails alone. */
    enqueueAlone(record: ReceivedRecord): Promise<void> {
      const jobId = createHash('sha256').update(`${record.source}\u0000${record.sourceId}\u0000${record.receivedAt}`).digest('hex');
      return add([record], `r-${jobId}`);
    },
    /** Forgets the index entries of records this job has stored. */
    async release(records: ReceivedRecord[], jobId: string): Promise<void> {
      if (records.length === 0) return;
      await redis.eval(RELEASE_SCRIPT, 1, indexKey, jobId, ...records.map((r) => indexField(r.source, r.sourceId)));
    },
    async state(source: string, sourceId: string): Promise<RecordQueueState> {
      const jobId = await redis.hget(indexKey, indexField(source, sourceId));
      if (!jobId) return null;
      const job = await Job.fromId<IngestJobData>(queue, jobId);
      if (!job) return null;
      const record = job.data.records.find((r) => r.source === source && r.sourceId === sourceId);
      const state = await job.getState();
      if (!record || state === 'completed' || state === 'unknown') return null;
      if (state === 'failed') return { status: 'failed', error: job.failedReason || 'failed', record };
      return { status: 'queued', record };
    },
    close: () => queue.close(),
  };
}

export type IngestQueue = ReturnType<typeof createIngestQueue>;
