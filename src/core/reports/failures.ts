import type { Queue } from 'bullmq';
import type { IngestJobData } from '../pipeline/ingest.queue.js';

const PAGE = 500;
/** Failed jobs read per report at most: the failed set is the dead letters, meant to stay small. */
export const MAX_FAILED_JOBS = 10_000;

/**
 * Records per source in the ingest queue's failed set (dead letters waiting for a fix and a replay),
 * read from the jobs themselves: the failed set, unlike connector_state.failed, knows every intake
 * (API, forms, connectors) and names each record's source.
 */
export async function failedRecordsBySource(queue: Queue<IngestJobData>): Promise<{ bySource: Map<string, number>; truncated: boolean }> {
  const total = await queue.getFailedCount();
  const bySource = new Map<string, number>();
  const limit = Math.min(total, MAX_FAILED_JOBS);
  for (let start = 0; start < limit; start += PAGE) {
    const jobs = await queue.getFailed(start, Math.min(limit, start + PAGE) - 1);
    for (const job of jobs) {
      for (const record of job?.data.records ?? []) bySource.set(record.source, (bySource.get(record.source) ?? 0) + 1);
    }
  }
  return { bySource, truncated: total > MAX_FAILED_JOBS };
}
