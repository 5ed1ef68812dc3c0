import { randomUUID } from 'node:crypto';
import type { Db, Sql } from '../store/db.js';
import { HubError } from '../errors.js';

export type Subscription = {
  id: string;
  url: string;
  events: string[];
  status: 'active' | 'disabled';
  disabledAt: string | null;
  disabledReason: string | null;
  failingSince: string | null;
  createdAt: string;
  updatedAt: string;
};

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export type Delivery = {
  id: string;
  subscriptionId: string;
  eventId: string;
  eventType: string;
  profileId: string | null;
  status: DeliveryStatus;
  attempts: number;
  createdAt: string;
  lastAttemptAt: string | null;
  deliveredAt: string | null;
  lastResponse: { status: number; body: string } | null;
  error: string | null;
};

type SubscriptionRow = {
  id: string;
  url: string;
  events: string[];
  enabled: boolean;
  disabled_at: Date | null;
  disabled_reason: string | null;
  failing_since: Date | null;
  created_at: Date;
  updated_at: Date;
  position: string;
};

type DeliveryRow = {
  id: string;
  subscription_id: string;
  event_id: string;
  event_type: string;
  profile_id: string | null;
  status: DeliveryStatus;
  attempts: number;
  created_at: Date;
  last_attempt_at: Date | null;
  delivered_at: Date | null;
  last_status: number | null;
  last_body: string | null;
  last_error: string | null;
};

// position: created_at to the microsecond (a JS Date keeps milliseconds only), for list cursors.
const SUBSCRIPTION_COLUMNS = `id, url, events, enabled, disabled_at, disabled_reason, failing_since, created_at, updated_at,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS position`;
const DELIVERY_COLUMNS = 'id::text, subscription_id, event_id::text, event_type, profile_id, status, attempts, created_at, last_attempt_at, delivered_at, last_status, last_body, last_error';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function toSubscription(r: SubscriptionRow): Subscription {
  return {
    id: r.id,
    url: r.url,
    events: r.events,
    status: r.enabled ? 'active' : 'disabled',
    disabledAt: iso(r.disabled_at),
    disabledReason: r.disabled_reason,
    failingSince: iso(r.failing_since),
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

function toDelivery(r: DeliveryRow): Delivery {
  return {
    id: r.id,
    subscriptionId: r.subscription_id,
    eventId: r.event_id,
    eventType: r.event_type,
    profileId: r.profile_id,
    status: r.status,
    attempts: r.attempts,
    createdAt: r.created_at.toISOString(),
    lastAttemptAt: iso(r.last_attempt_at),
    deliveredAt: iso(r.delivered_at),
    lastResponse: r.last_status === null ? null : { status: r.last_status, body: r.last_body ?? '' },
    error: r.last_error,
  };
}

function badCursor(): HubError {
  return new HubError('VALIDATION', 'cursor is not one this API returned', { errors: [{ path: '/querystring/cursor', message: 'invalid cursor' }] });
}

function encode(parts: string[]): string {
  return Buffer.from(JSON.stringify(parts), 'utf8').toString('base64url');
}

function decode(cursor: string, check: (parts: string[]) => boolean): string[] {
  try {
    const parts: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parts) && parts.every((p) => typeof p === 'string') && check(parts as string[])) return parts as string[];
  } catch {
    // falls through to the 400
  }
  throw badCursor();
}

export type Page<T> = { data: T[]; nextCursor: string | null };

/** Subscriptions and their delivery log in the store. Secrets leave it only through `secretOf`. */
export function createSubscriptionStore(db: Db) {
  async function get(id: string): Promise<Subscription | null> {
    if (!UUID.test(id)) return null;
    const row = (await db.query<SubscriptionRow>(`SELECT ${SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE id = $1`, [id])).rows[0];
    return row ? toSubscription(row) : null;
  }

  return {
    get,

    /** Deliveries per status, for the metrics. */
    async deliveryCounts(): Promise<{ status: string; count: number }[]> {
      const rows = (await db.query<{ status: string; count: number }>('SELECT status, count(*)::int AS count FROM deliveries GROUP BY status')).rows;
      return rows.map((r) => ({ status: r.status, count: Number(r.count) }));
    },

    async create(input: { url: string; events: string[]; secret: string }): Promise<Subscription> {
      const row = (
        await db.query<SubscriptionRow>(`INSERT INTO subscriptions (id, url, events, secret) VALUES ($1, $2, $3::text[], $4) RETURNING ${SUBSCRIPTION_COLUMNS}`, [
          randomUUID(),
          input.url,
          input.events,
          input.secret,
        ])
      ).rows[0];
      if (!row) throw new HubError('STORE_UNAVAILABLE', 'subscription was not stored');
      return toSubscription(row);
    },

    async list(page: { limit: number; cursor?: string }): Promise<Page<Subscription>> {
      const params: unknown[] = [page.limit + 1];
      let where = '';
      if (page.cursor) {
        const [createdAt, id] = decode(page.cursor, (p) => p.length === 2 && !Number.isNaN(Date.parse(p[0] ?? '')) && UUID.test(p[1] ?? ''));
        params.push(createdAt, id);
        where = 'WHERE (created_at, id) > ($2::timestamptz, $3::uuid)';
      }
      const rows = (await db.query<SubscriptionRow>(`SELECT ${SUBSCRIPTION_COLUMNS} FROM subscriptions ${where} ORDER BY subscriptions.created_at, subscriptions.id LIMIT $1`, params)).rows;
      const last = rows.slice(0, page.limit).at(-1);
      return { data: rows.slice(0, page.limit).map(toSubscription), nextCursor: rows.length > page.limit && last ? encode([last.position, last.id]) : null };
    },

    /** Enabling clears the disabled state and the failing run; disabling names the reason. */
    async update(id: string, change: { url?: string; events?: string[]; enabled?: boolean; reason?: string }): Promise<Subscription | null> {
      if (!UUID.test(id)) return null;
      const row = (
        await db.query<SubscriptionRow>(
          `UPDATE subscriptions SET
             url = coalesce($2, url),
             events = coalesce($3::text[], events),
             enabled = coalesce($4, enabled),
             disabled_at = CASE WHEN $4 IS TRUE THEN NULL WHEN $4 IS FALSE AND enabled THEN now() ELSE disabled_at END,
             disabled_reason = CASE WHEN $4 IS TRUE THEN NULL WHEN $4 IS FALSE AND enabled THEN $5 ELSE disabled_reason END,
             failing_since = CASE WHEN $4 IS TRUE THEN NULL ELSE failing_since END,
             updated_at = now()
           WHERE id = $1 RETURNING ${SUBSCRIPTION_COLUMNS}`,
          [id, change.url ?? null, change.events ?? null, change.enabled ?? null, change.reason ?? null],
        )
      ).rows[0];
      return row ? toSubscription(row) : null;
    },

    async remove(id: string): Promise<boolean> {
      if (!UUID.test(id)) return false;
      return (await db.query(`DELETE FROM subscriptions WHERE id = $1 RETURNING id`, [id])).rows.length > 0;
    },

    /** The delivery log of a subscription, newest first. */
    async deliveries(subscriptionId: string, page: { limit: number; cursor?: string; status?: DeliveryStatus }): Promise<Page<Delivery>> {
      const params: unknown[] = [subscriptionId, page.limit + 1];
      const where = ['subscription_id = $1'];
      if (page.status) {
        params.push(page.status);
        where.push(`status = $${params.length}`);
      }
      if (page.cursor) {
        const [before] = decode(page.cursor, (p) => p.length === 1 && /^\d{1,18}$/.test(p[0] ?? ''));
        params.push(before);
        where.push(`id < $${params.length}::bigint`);
      }
      const rows = (await db.query<DeliveryRow>(`SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE ${where.join(' AND ')} ORDER BY deliveries.id DESC LIMIT $2`, params)).rows;
      const data = rows.slice(0, page.limit).map(toDelivery);
      const last = data.at(-1);
      return { data, nextCursor: rows.length > page.limit && last ? encode([last.id]) : null };
    },

    /** Puts a delivery (any status) back to pending for another send; null when there is no such delivery. */
    async requeue(subscriptionId: string, deliveryId: string): Promise<Delivery | null> {
      if (!/^\d{1,18}$/.test(deliveryId)) return null;
      const row = (
        await db.query<DeliveryRow>(
          `UPDATE deliveries SET status = 'pending', delivered_at = NULL, leased_until = NULL WHERE subscription_id = $1 AND id = $2::bigint RETURNING ${DELIVERY_COLUMNS}`,
          [subscriptionId, deliveryId],
        )
      ).rows[0];
      return row ? toDelivery(row) : null;
    },
  };
}

export type SubscriptionStore = ReturnType<typeof createSubscriptionStore>;

/** The enabled subscriptions with their event patterns, read in the relay's transaction. */
export async function activeSubscriptions(tx: Sql): Promise<{ id: string; events: string[] }[]> {
  return (await tx.query<{ id: string; events: string[] }>(`SELECT id, events FROM subscriptions WHERE enabled ORDER BY id`)).rows;
}
