import type { Logger } from 'pino';
import { recordIdentifiers, type NormalizeOptions } from '../identity/normalize.js';
import type { IngestQueue } from '../pipeline/ingest.queue.js';
import { HubError, isHubError } from '../errors.js';
import type { ErasureStore, EraseOutcome, HeldRecord } from './erasure.store.js';
import type { QueueScrubber } from './erasure.queues.js';

export type ErasureServiceDeps = {
  store: ErasureStore;
  scrubber: QueueScrubber;
  ingest: Pick<IngestQueue, 'enqueue'>;
  normalize: NormalizeOptions;
  log: Logger;
};

/** Erasure across the store and the queues, and the records held since. */
export function createErasureService(deps: ErasureServiceDeps) {
  async function scrubOrFail(person: Parameters<QueueScrubber['scrub']>[0]) {
    try {
      return await deps.scrubber.scrub(person);
    } catch (cause) {
      if (isHubError(cause)) throw cause;
      throw new HubError('REDIS_UNAVAILABLE', 'the queues (Redis) could not be cleaned; nothing was erased, send the request again', { cause });
    }
  }

  /**
   * The queues are cleaned first (if Redis is down nothing is erased, and the client may retry),
   * then the store in one transaction, then the queues again for a job that ran in between.
   */
  async function erase(profileId: string): Promise<EraseOutcome & { jobs?: { changed: number; removed: number } }> {
    const first = await scrubOrFail(await deps.store.preview(profileId));
    const outcome = await deps.store.erase(profileId);
    if (outcome.status !== 'erased') return outcome;
    let second = { jobsChanged: 0, jobsRemoved: 0 };
    try {
      second = await deps.scrubber.scrub(outcome.person);
    } catch (err) {
      deps.log.error({ err, profileId }, 'erasure: the second pass over the queues failed; a job that ran during the erasure may still hold the data');
    }
    return { ...outcome, jobs: { changed: first.jobsChanged + second.jobsChanged, removed: first.jobsRemoved + second.jobsRemoved } };
  }

  /** Queues a held record normally and forgets the erased hashes of its identifiers. */
  async function release(id: string): Promise<HeldRecord | null> {
    const held = await deps.store.getHeld(id);
    if (!held) return null;
    await deps.store.forget(recordIdentifiers(held.record, deps.normalize));
    await deps.ingest.enqueue([held.record]);
    // Deleted only once queued: a failure above leaves it held, and releasing it again is safe.
    await deps.store.deleteHeld(id);
    return held;
  }

  return {
    erase,
    release,
    discard: (id: string) => deps.store.deleteHeld(id),
    listHeld: deps.store.listHeld,
    exportData: deps.store.exportData,
  };
}

export type ErasureService = ReturnType<typeof createErasureService>;
