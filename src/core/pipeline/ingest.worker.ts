import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ProfileStore } from '../store/profile.store.js';
import type { ReceivedRecord } from '../record.schema.js';
import { INGEST_QUEUE, type IngestJobData, type IngestQueue } from './ingest.queue.js';
import { isHubError } from '../errors.js';
import { isTransient } from './transient.js';
import type { HubMetrics } from '../metrics/metrics.js';

export type IngestWorkerDeps = {
  redis: Redis;
  prefix: string;
  concurrency: number;
  /** Records per database transaction. */
  transactionSize: number;
  store: Pick<ProfileStore, 'resolveBatch'>;
  ingest: IngestQueue;
  log: Logger;
  metrics?: Pick<HubMetrics, 'stored' | 'failed'>;
  /** Takes out the records that must not be resolved (the erasure guard); the rest are resolved. */
  screen?: (job: Job<IngestJobData>) => Promise<ReceivedRecord[]>;
};

/**
 * Resolves a job's batch in one transaction. If the batch fails for a reason in the data (not an
 * outage), each record is tried alone and the ones that still fail are queued on their own, so
 * one bad record retries and ends in the failed set alone while the rest flow on.
 */
export function createIngestProcessor(deps: Pick<IngestWorkerDeps, 'store' | 'ingest' | 'log' | 'transactionSize' | 'metrics' | 'screen'>) {
  /** Resolves records alone; those that still fail are queued on their own. Returns how many were. */
  async function isolate(records: ReceivedRecord[]): Promise<number> {
    let isolated = 0;
    for (const record of records) {
      try {
        await deps.store.resolveBatch([record]);
        deps.metrics?.stored([record]);
      } catch (err) {
        if (isTransient(err)) throw asJobError(err);
        await deps.ingest.enqueueAlone(record);
        isolated += 1;
      }
    }
    return isolated;
  }

  return async function processIngest(job: Job<IngestJobData>): Promise<{ stored: number; isolated: number }> {
    const received = job.data.records;
    const records = deps.screen ? await deps.screen(job) : received;
    let isolated = 0;
    // A client's batch is resolved in transactions of transactionSize records: a short transaction
    // holds its identifier locks briefly, so concurrent batches that share a person wait less.
    // A chunk that commits and a later one that fails: the job's retry rewrites the first unchanged.
    for (let start = 0; start < records.length; start += deps.transactionSize) {
      const chunk = records.slice(start, start + deps.transactionSize);
      try {
        await deps.store.resolveBatch(chunk);
        deps.metrics?.stored(chunk);
      } catch (err) {
        if (records.length === 1 || isTransient(err)) throw asJobError(err);
        deps.log.warn({ err, jobId: job.id, records: chunk.length }, 'batch failed; resolving its records one by one');
        isolated += await isolate(chunk);
      }
    }
    await deps.ingest.release(received, job.id ?? '');
    return { stored: records.length - isolated, isolated };
  };
}

function asJobError(err: unknown): unknown {
  return isHubError(err) && !err.retryable ? new UnrecoverableError(err.message) : err;
}

export function createIngestWorker(deps: IngestWorkerDeps): Worker<IngestJobData> {
  const worker = new Worker<IngestJobData>(INGEST_QUEUE, createIngestProcessor(deps), {
    connection: deps.redis,
    prefix: deps.prefix,
    concurrency: deps.concurrency,
    // A job whose worker died is handed to another; only a job that kills three workers in a row is
    // failed (BullMQ's default of one would fail a job whose worker was merely killed twice).
    maxStalledCount: 3,
  });
  worker.on('failed', (job, err) => {
    const final = job ? job.attemptsMade >= (job.opts.attempts ?? 1) || err instanceof UnrecoverableError : false;
    if (final && job) deps.metrics?.failed(job.data.records);
    deps.log[final ? 'error' : 'warn']({ err, jobId: job?.id, attempt: job?.attemptsMade, final }, final ? 'job failed for good: in the failed set' : 'job failed; will retry');
  });
  worker.on('error', (err) => deps.log.error({ err }, 'worker error'));
  return worker;
}
