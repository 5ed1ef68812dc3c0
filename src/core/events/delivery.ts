import { Queue, Worker, type Job } from 'bullmq';
import { AxiosError } from 'axios';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Db } from '../store/db.js';
import { createHttpClient, type HttpClient } from '../../connectors/http-client.js';
import { signedHeaders, type DeliveryPayload } from './signing.js';
import { PRIVATE_ADDRESS, type UrlGuard } from './url-guard.js';

export const DELIVERIES_QUEUE = 'deliveries';
const BODY_EXCERPT = 500;

/*
 * Ordering and at-least-once
 * --------------------------
 * A lane is (subscription, profile); events of no profile share one lane per subscription. The
 * pending deliveries of a lane go out one at a time, oldest event first, and the next is sent only
 * once the one before it is delivered or has failed for good (then order gives way to progress). The store, not the queue, decides what may be sent:
 *  - a delivery job claims its delivery with one UPDATE that succeeds only if the delivery is
 *    pending, its subscription enabled, nothing older in its lane is pending, and no other
 *    worker holds a lease on it. Anything else: the job ends without sending. So several workers,
 *    duplicate jobs and retries can never send a lane out of order or the same delivery twice at once.
 *  - BullMQ retries a failed send with exponential backoff. While it waits, the delivery stays
 *    pending and heads its lane, so everything behind it waits too.
 *  - jobs are "kicked" for lane heads only (job id d-<delivery id>, so a head that already has a
 *    job, e.g. one waiting out its backoff, gets no second one): after the relay commits new
 *    deliveries, after a delivery ends (the next in its lane), and by a periodic sweep that catches
 *    whatever a crash or a race left without a job (a head whose job ended just before the head
 *    before it was delivered). A delivery is marked delivered only after a 2xx: a crash between
 *    the send and that write sends it again (at-least-once; the webhook-id stays the same).
 */

export type DeliveryOptions = {
  attempts: number;
  backoffMs: number;
  timeoutMs: number;
  disableAfterMs: number;
  concurrency: number;
};

type DeliveryJob = { deliveryId: string };

type Claimed = { id: string; subscription_id: string; profile_id: string | null; event_id: string; payload: DeliveryPayload; url: string; secret: string };

/** `refused`: the URL leads to an address the hub may not reach (url-guard.ts). */
type Outcome = { ok: boolean; status: number | null; body: string | null; error: string | null; refused?: boolean };

export type Lane = { subscriptionId: string; profileId: string | null };

export type DeliveryResult = { sent: false; reason: string } | { sent: true; outcome: Outcome; disabled?: string };

const jobId = (deliveryId: string) => `d-${deliveryId}`;
/** The lane of deliveries of events that concern no profile (migration 007). */
const NO_PROFILE = '00000000-0000-0000-0000-000000000000';

export function createDeliveries(deps: { db: Db; redis: Redis; prefix: string; options: DeliveryOptions; guard: UrlGuard; log: Logger }) {
  const { db, options, guard, log } = deps;
  const queue = new Queue<DeliveryJob>(DELIVERIES_QUEUE, { connection: deps.redis, prefix: deps.prefix });
  queue.on('error', () => undefined);
  // A completed or dead job must not keep its id: a later kick of the same delivery (a redelivery,
  // a re-enabled subscription) has to be able to queue it again. The delivery log keeps the outcome.
  const jobOptions = { attempts: options.attempts, backoff: { type: 'exponential', delay: options.backoffMs, jitter: 0.2 }, removeOnComplete: true, removeOnFail: true } as const;
  const clients = new Map<string, { url: string; client: HttpClient }>();

  /** The oldest pending delivery of each lane of enabled subscriptions, optionally of some lanes or one subscription only. */
  async function heads(filter: { lanes?: readonly Lane[]; subscriptionId?: string } = {}): Promise<string[]> {
    const params: unknown[] = [];
    let join = '';
    let where = '';
    if (filter.lanes) {
      if (filter.lanes.length === 0) return [];
      params.push(JSON.stringify(filter.lanes.map((l) => ({ s: l.subscriptionId, p: l.profileId }))));
      join = `JOIN jsonb_to_recordset($1::jsonb) AS l(s uuid, p uuid) ON d.subscription_id = l.s AND d.lane = coalesce(l.p, '${NO_PROFILE}')`;
    } else if (filter.subscriptionId) {
      params.push(filter.subscriptionId);
      where = 'AND d.subscription_id = $1';
    }
    const rows = (
      await db.query<{ id: string }>(
        `SELECT DISTINCT ON (d.subscription_id, d.lane) d.id::text AS id
           FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id AND s.enabled ${join}
          WHERE d.status = 'pending' ${where}
          ORDER BY d.subscription_id, d.lane, d.event_id`,
        params,
      )
    ).rows;
    return rows.map((r) => r.id);
  }

  /** Queues a job for each delivery that has none; `promote` also ends the backoff wait of one that has. */
  async function kick(deliveryIds: readonly string[], promote = false): Promise<void> {
    if (deliveryIds.length === 0) return;
    await queue.addBulk(deliveryIds.map((id) => ({ name: 'deliver', data: { deliveryId: id }, opts: { ...jobOptions, jobId: jobId(id) } })));
    if (!promote) return;
    for (const id of deliveryIds) {
      const job = await queue.getJob(jobId(id));
      if (job && (await job.isDelayed())) await job.promote().catch(() => undefined);
    }
  }

  async function kickLanes(lanes: readonly Lane[]): Promise<void> {
    await kick(await heads({ lanes }));
  }

  /** A redelivery asked for by a user: any old job of it goes, a fresh one with fresh attempts comes. */
  async function redeliver(deliveryId: string): Promise<void> {
    const old = await queue.getJob(jobId(deliveryId));
    if (old && !(await old.isActive())) await old.remove().catch(() => undefined);
    await kick([deliveryId], true);
  }

  function clientFor(subscriptionId: string, url: string): HttpClient {
    const known = clients.get(subscriptionId);
    if (known?.url === url) return known.client;
    known?.client.close();
    const client = createHttpClient({ name: `subscription ${subscriptionId}`, log, timeoutMs: options.timeoutMs, retries: 0, resetTimeoutMs: options.backoffMs });
    clients.set(subscriptionId, { url, client });
    return client;
  }

  async function claim(deliveryId: string): Promise<Claimed | null> {
    // The lease outlives one send (timeout plus margin), so a crashed worker's claim expires on its own.
    const leaseMs = options.timeoutMs * 2 + 30_000;
    const rows = (
      await db.query<Claimed>(
        `UPDATE deliveries d SET leased_until = now() + $2::float8 * interval '1 millisecond'
           FROM subscriptions s
          WHERE d.id = $1::bigint AND s.id = d.subscription_id AND s.enabled AND d.status = 'pending'
            AND (d.leased_until IS NULL OR d.leased_until < now())
            AND NOT EXISTS (SELECT 1 FROM deliveries o
                             WHERE o.subscription_id = d.subscription_id AND o.lane = d.lane
                               AND o.status = 'pending' AND o.event_id < d.event_id)
          RETURNING d.id::text AS id, d.subscription_id, d.profile_id, d.event_id::text AS event_id, d.payload, s.url, s.secret`,
        [deliveryId, leaseMs],
      )
    ).rows;
    return rows[0] ?? null;
  }

  async function send(d: Claimed): Promise<Outcome> {
    const refusal = guard.refusedLiteral(d.url);
    if (refusal !== null) return { ok: false, status: null, body: null, error: refusal, refused: true };
    const body = JSON.stringify(d.payload);
    const headers = { ...signedHeaders(d.secret, `evt_${d.event_id}`, body, new Date()), 'content-type': 'application/json', 'user-agent': 'crm-hub-webhooks/1' };
    try {
      const res = await clientFor(d.subscription_id, d.url).request<string>({
        method: 'POST',
        url: d.url,
        data: body,
        headers,
        responseType: 'text',
        transformResponse: [(x: unknown) => x],
        maxRedirects: 0,
        // The name is resolved and checked here, and the connection goes to the addresses checked.
        ...(guard.lookup ? { lookup: guard.lookup } : {}),
      });
      return { ok: true, status: res.status, body: excerpt(res.data), error: null };
    } catch (err) {
      const cause = err instanceof Error && err.cause instanceof AxiosError ? err.cause : err instanceof AxiosError ? err : undefined;
      if (cause?.response) return { ok: false, status: cause.response.status, body: excerpt(cause.response.data), error: null };
      if (cause?.code === PRIVATE_ADDRESS) return { ok: false, status: null, body: null, error: cause.message, refused: true };
      return { ok: false, status: null, body: null, error: (err as Error).message };
    }
  }

  /** Sends one delivery if it may go now; records the attempt; throws to have BullMQ retry it later. */
  async function deliver(deliveryId: string, attempt: { made: number; max: number }): Promise<DeliveryResult> {
    const d = await claim(deliveryId);
    if (!d) return { sent: false, reason: 'not pending, not first in its lane, leased, or its subscription is disabled' };
    const outcome = await send(d);
    const final = !outcome.ok && attempt.made + 1 >= attempt.max;
    const status = outcome.ok ? 'delivered' : final ? 'failed' : 'pending';
    const disabled = await db.transaction(async (tx) => {
      await tx.query(
        `UPDATE deliveries SET status = $2, attempts = attempts + 1, last_attempt_at = now(), last_status = $3, last_body = $4, last_error = $5,
                delivered_at = CASE WHEN $2 = 'delivered' THEN now() ELSE delivered_at END, leased_until = NULL
          WHERE id = $1::bigint`,
        [d.id, status, outcome.status, outcome.body, outcome.error],
      );
      if (outcome.ok) {
        await tx.query(`UPDATE subscriptions SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL`, [d.subscription_id]);
        return undefined;
      }
      // 410 Gone: the endpoint says it will never take deliveries again, so stop at once; so does
      // a URL that leads into the hub's own network.
      const atOnce = outcome.status === 410 || outcome.refused === true;
      const reason =
        outcome.status === 410
          ? 'the endpoint answered 410 Gone'
          : outcome.refused
            ? `the URL was refused: ${outcome.error}`
            : `failing without a break for more than ${Math.round(options.disableAfterMs / 1000)} s (last: ${outcome.status !== null ? `HTTP ${outcome.status}` : outcome.error})`;
      const row = (
        await tx.query<{ disabled: boolean }>(
          `UPDATE subscriptions SET failing_since = coalesce(failing_since, now()),
                  enabled = enabled AND NOT ($2 OR coalesce(failing_since, now()) < now() - $3::float8 * interval '1 millisecond'),
                  disabled_at = CASE WHEN enabled AND ($2 OR coalesce(failing_since, now()) < now() - $3::float8 * interval '1 millisecond') THEN now() ELSE disabled_at END,
                  disabled_reason = CASE WHEN enabled AND ($2 OR coalesce(failing_since, now()) < now() - $3::float8 * interval '1 millisecond') THEN $4 ELSE disabled_reason END,
                  updated_at = now()
            WHERE id = $1 RETURNING NOT enabled AS disabled`,
          [d.subscription_id, atOnce, options.disableAfterMs, reason],
        )
      ).rows[0];
      return row?.disabled ? reason : undefined;
    });
    if (disabled) {
      log.warn({ subscriptionId: d.subscription_id, reason: disabled }, 'subscription disabled');
      return { sent: true, outcome, disabled };
    }
    if (outcome.ok || final) await kickLanes([{ subscriptionId: d.subscription_id, profileId: d.profile_id }]);
    if (!outcome.ok) throw new Error(outcome.status !== null ? `subscriber answered HTTP ${outcome.status}` : `subscriber not reached: ${outcome.error}`);
    return { sent: true, outcome };
  }

  function startWorker(redis: Redis): Worker<DeliveryJob> {
    const worker = new Worker<DeliveryJob>(
      DELIVERIES_QUEUE,
      (job: Job<DeliveryJob>) => deliver(job.data.deliveryId, { made: job.attemptsMade, max: job.opts.attempts ?? 1 }),
      { connection: redis, prefix: deps.prefix, concurrency: options.concurrency },
    );
    worker.on('failed', (job, err) => log.debug({ err, deliveryId: job?.data.deliveryId, attempt: job?.attemptsMade }, 'delivery attempt failed'));
    worker.on('error', (err) => log.error({ err }, 'delivery worker error'));
    return worker;
  }

  /** Drops finished deliveries older than the log keeps, a bounded number per call. */
  async function prune(keepDays: number): Promise<number> {
    const rows = await db.query(
      `DELETE FROM deliveries WHERE id IN (
         SELECT id FROM deliveries WHERE status <> 'pending' AND created_at < now() - $1::float8 * interval '1 day' LIMIT 10000)
       RETURNING id`,
      [keepDays],
    );
    return rows.rows.length;
  }

  return {
    queue,
    heads,
    prune,
    kick,
    kickLanes,
    redeliver,
    startWorker,
    close: async () => {
      for (const { client } of clients.values()) client.close();
      await queue.close();
    },
  };
}

export type Deliveries = ReturnType<typeof createDeliveries>;

function excerpt(data: unknown): string {
  const text = typeof data === 'string' ? data : data === undefined || data === null ? '' : JSON.stringify(data);
  return text.length > BODY_EXCERPT ? `${text.slice(0, BODY_EXCERPT)}…` : text;
}
