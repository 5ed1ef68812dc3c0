import type { AlertRuleConfig } from '../config/config.schema.js';
import type { Db } from '../store/db.js';
import { ALERTED_EVENT, alertsForEvents, fireAlerts } from './alerts.js';
import { matchesEvent, payloadOf, type OutboxEvent } from './signing.js';
import { activeSubscriptions } from './subscription.store.js';
import type { Lane } from './delivery.js';

export type RelayResult = { read: number; relayed: number; deliveries: number; alerts: number; lanes: Lane[] };

/**
 * Moves one batch of outbox events on, in one transaction: a delivery row for each enabled
 * subscription that wants the event, alert events for the interactions that match an alert
 * rule (appended to the outbox, so they are relayed like any other event), then the events are
 * deleted. A crash before the commit leaves everything as it was; nothing is relayed twice.
 *
 * Several workers may relay at once. Each takes the oldest events no one else holds
 * (FOR UPDATE SKIP LOCKED, in id order: ids commit out of order across transactions, so a
 * "last id seen" would skip events committed late). A profile's events must reach its lanes in
 * order, so when an older event of the same profile is held by another relayer, this one leaves
 * that profile's events for a later round.
 */
export async function relayOnce(db: Db, options: { batch: number; alerts: readonly AlertRuleConfig[] }): Promise<RelayResult> {
  return db.transaction(async (tx) => {
    // Without their data: most events are wanted by no subscription and no alert rule, and reading
    // what every one says was most of a relay's work. Only the wanted ones are read in full, below.
    const rows = (
      await tx.query<{ id: string; type: string; profile_id: string | null }>(
        `SELECT id::text AS id, type, profile_id FROM events ORDER BY events.id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [options.batch],
      )
    ).rows;
    if (rows.length === 0) return { read: 0, relayed: 0, deliveries: 0, alerts: 0, lanes: [] };

    const profiles = [...new Set(rows.map((r) => r.profile_id).filter((p): p is string => p !== null))];
    const held = new Set(
      profiles.length === 0
        ? []
        : (
            await tx.query<{ profile_id: string }>(
              `SELECT DISTINCT profile_id FROM events
                WHERE profile_id = ANY($1::uuid[]) AND id < $2::bigint AND NOT (id = ANY($3::bigint[]))`,
              [profiles, rows.at(-1)?.id, rows.map((r) => r.id)],
            )
          ).rows.map((r) => r.profile_id),
    );
    const movable = rows.filter((r) => r.profile_id === null || !held.has(r.profile_id));
    if (movable.length === 0) return { read: rows.length, relayed: 0, deliveries: 0, alerts: 0, lanes: [] };

    const subscriptions = await activeSubscriptions(tx);
    const wanted = movable.filter((r) => subscriptions.some((s) => matchesEvent(s.events, r.type)) || (options.alerts.length > 0 && r.type === ALERTED_EVENT));
    const events: OutboxEvent[] =
      wanted.length === 0
        ? []
        : (
            await tx.query<{ id: string; type: string; profile_id: string | null; data: Record<string, unknown>; created_at: Date }>(
              `SELECT id::text AS id, type, profile_id, data, created_at FROM events WHERE id = ANY($1::bigint[]) ORDER BY id`,
              [wanted.map((r) => r.id)],
            )
          ).rows.map((r) => ({ id: r.id, type: r.type, profileId: r.profile_id, data: r.data, createdAt: r.created_at.toISOString() }));

    const deliveries = events.flatMap((e) =>
      subscriptions
        .filter((s) => matchesEvent(s.events, e.type))
        .map((s) => ({ subscription_id: s.id, event_id: e.id, event_type: e.type, profile_id: e.profileId, payload: payloadOf(e) })),
    );
    if (deliveries.length > 0) {
      await tx.query(
        `INSERT INTO deliveries (subscription_id, event_id, event_type, profile_id, lane, payload)
         SELECT subscription_id, event_id, event_type, profile_id, coalesce(profile_id, '00000000-0000-0000-0000-000000000000'), payload
           FROM jsonb_to_recordset($1::jsonb) AS x(subscription_id uuid, event_id bigint, event_type text, profile_id uuid, payload jsonb)
          ORDER BY event_id, subscription_id
         ON CONFLICT (subscription_id, event_id) DO NOTHING`,
        [JSON.stringify(deliveries)],
      );
    }
    const alerts = options.alerts.length > 0 ? await fireAlerts(tx, alertsForEvents(options.alerts, events)) : 0;
    await tx.query(`DELETE FROM events WHERE id = ANY($1::bigint[])`, [movable.map((e) => e.id)]);

    const lanes = new Map<string, Lane>();
    for (const d of deliveries) lanes.set(`${d.subscription_id}\u0000${d.profile_id ?? ''}`, { subscriptionId: d.subscription_id, profileId: d.profile_id });
    return { read: rows.length, relayed: movable.length, deliveries: deliveries.length, alerts, lanes: [...lanes.values()] };
  });
}
