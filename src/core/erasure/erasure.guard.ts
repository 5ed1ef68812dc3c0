import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import { recordIdentifiers, type IdentifierType, type NormalizeOptions } from '../identity/normalize.js';
import type { IngestJobData } from '../pipeline/ingest.queue.js';
import type { ReceivedRecord } from '../record.schema.js';
import type { ErasureStore } from './erasure.store.js';

export type ErasureGuardDeps = {
  store: Pick<ErasureStore, 'erasedAmong' | 'hold' | 'countDropped'>;
  onReturn: 'hold' | 'drop';
  normalize: NormalizeOptions;
  log: Logger;
};

/**
 * Runs in the ingest worker before resolving: a record that carries an identifier of an erased
 * person does not silently rebuild them. It is held for review (or dropped, by config), and taken
 * out of the job's data so that Redis does not keep it either. Returns the records to resolve.
 */
export function createErasureGuard(deps: ErasureGuardDeps) {
  return async function screen(job: Job<IngestJobData>): Promise<ReceivedRecord[]> {
    const records = job.data.records;
    const identifiers = records.map((r) => recordIdentifiers(r, deps.normalize));
    const erased = await deps.store.erasedAmong(identifiers.flat());
    if (erased.size === 0) return records;

    const kept: ReceivedRecord[] = [];
    const returned: { record: ReceivedRecord; matched: IdentifierType[] }[] = [];
    records.forEach((record, n) => {
      const matched = [...new Set((identifiers[n] ?? []).filter((i) => erased.has(`${i.type}\u0000${i.value}`)).map((i) => i.type))];
      if (matched.length > 0) returned.push({ record, matched });
      else kept.push(record);
    });
    if (deps.onReturn === 'hold') await deps.store.hold(returned);
    else await deps.store.countDropped(returned.length);
    // Counts and identifier types only: the values are what was erased.
    deps.log.warn(
      { jobId: job.id, records: returned.length, matched: [...new Set(returned.flatMap((r) => r.matched))], onReturn: deps.onReturn },
      deps.onReturn === 'hold' ? 'records carrying erased identifiers held for review' : 'records carrying erased identifiers dropped',
    );
    await job.updateData({ records: kept });
    return kept;
  };
}

export type ErasureGuard = ReturnType<typeof createErasureGuard>;
