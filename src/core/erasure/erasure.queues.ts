import { Job, type JobType, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { INGEST_QUEUE, type IngestJobData } from '../pipeline/ingest.queue.js';
import { recordIdentifiers, type NormalizeOptions } from '../identity/normalize.js';
import type { ReceivedRecord } from '../record.schema.js';
import type { ErasedPerson } from './erasure.store.js';

/**
 * Every job state but active: a running job belongs to its worker; the erasure guard and the second
 * pass after the database erasure cover it.
 */
const STATES: JobType[] = ['completed', 'failed', 'wait', 'delayed', 'prioritized', 'waiting-children'];
const PAGE = 500;

export type QueueScrubDeps = { redis: Redis; prefix: string; ingest: Queue<IngestJobData>; others: readonly Queue[]; normalize: NormalizeOptions; log: Logger };

/**
 * Removes an erased person from Redis: the ingest jobs that hold their records (the records are
 * taken out of a batch; a job left empty is removed), the record → job index entries, and any other
 * hub job (connector events keep source payloads) whose data mentions one of their values.
 * Jobs are read one at a time and only parsed when their text contains a value of the person.
 */
export function createQueueScrubber(deps: QueueScrubDeps) {
  const indexKey = `${deps.prefix}:${INGEST_QUEUE}:record-jobs`;

  /**
   * The person's values as they would appear in job data (JSON, lowercased), each matched only as a
   * whole (not inside a longer word or number). Record ids only for the ingest queue, whose matches
   * are then checked record by record; a payload in another queue is removed on a value match alone.
   */
  function patternsOf(person: ErasedPerson, withRecordIds: boolean): RegExp[] {
    const values = [...person.rawValues, ...person.identifiers.map((i) => i.value), ...(withRecordIds ? person.records.map((r) => r.sourceId) : [])];
    const needles = [...new Set(values.map((v) => JSON.stringify(v.toLowerCase()).slice(1, -1)).filter((v) => v.length >= 3))];
    return needles.map((n) => new RegExp(`(?<![\\p{L}\\p{N}])${n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\p{L}\\p{N}])`, 'u'));
  }

  function belongs(person: ErasedPerson) {
    const records = new Set(person.records.map((r) => `${r.source}\u0000${r.sourceId}`));
    const identifiers = new Set(person.identifiers.map((i) => `${i.type}\u0000${i.value}`));
    return (record: ReceivedRecord) =>
      records.has(`${record.source}\u0000${record.sourceId}`) || recordIdentifiers(record, deps.normalize).some((i) => identifiers.has(`${i.type}\u0000${i.value}`));
  }

  async function* candidates(queue: Queue, patterns: RegExp[]): AsyncGenerator<string> {
    for (const state of STATES) {
      const ids: string[] = [];
      for (let start = 0; ; start += PAGE) {
        const page = await queue.getRanges([state], start, start + PAGE - 1, true);
        ids.push(...page);
        if (page.length < PAGE) break;
      }
      for (const id of ids) {
        const data = (await deps.redis.hget(queue.toKey(id), 'data'))?.toLowerCase();
        if (data && patterns.some((p) => p.test(data))) yield id;
      }
    }
  }

  /** Returns how many jobs were changed or removed; counts only, never values. */
  async function scrub(person: ErasedPerson): Promise<{ jobsChanged: number; jobsRemoved: number }> {
    let jobsChanged = 0;
    let jobsRemoved = 0;
    if (person.records.length > 0) await deps.redis.hdel(indexKey, ...person.records.map((r) => `${r.source}\u0000${r.sourceId}`));
    const isTheirs = belongs(person);

    for await (const id of candidates(deps.ingest, patternsOf(person, true))) {
      const job = await Job.fromId<IngestJobData>(deps.ingest, id);
      if (!job) continue;
      const kept = job.data.records.filter((r) => !isTheirs(r));
      if (kept.length === job.data.records.length) continue;
      if (kept.length > 0) {
        await job.updateData({ records: kept });
        jobsChanged += 1;
      } else if (await removeJob(job)) {
        jobsRemoved += 1;
      }
    }
    const valuePatterns = patternsOf(person, false);
    for (const queue of deps.others) {
      for await (const id of candidates(queue, valuePatterns)) {
        const job = await Job.fromId(queue, id);
        if (job && (await removeJob(job))) jobsRemoved += 1;
      }
    }
    return { jobsChanged, jobsRemoved };
  }

  async function removeJob(job: Job): Promise<boolean> {
    try {
      await job.remove();
      return true;
    } catch (err) {
      // A job that became active meanwhile is locked by its worker; the guard holds its records.
      deps.log.warn({ err, queue: job.queueName, jobId: job.id }, 'erasure: a job could not be removed (it is running)');
      return false;
    }
  }

  return { scrub };
}

export type QueueScrubber = ReturnType<typeof createQueueScrubber>;
