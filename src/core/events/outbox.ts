import type { Sql } from '../store/db.js';

/** The events the hub announces; `alert.*` names come from the alert rules. */
export type HubEventType =
  | 'profile.created'
  | 'profile.updated'
  | 'profile.merged'
  | 'profile.split'
  | 'profile.deleted'
  | 'interaction.created'
  | `alert.${string}`;

export type HubEvent = { type: HubEventType; profileId: string | null; data: Record<string, unknown> };

/** Writes events into the outbox inside the caller's transaction, in the order given. */
export async function appendEvents(tx: Sql, events: readonly HubEvent[]): Promise<void> {
  if (events.length === 0) return;
  await tx.query(
    `INSERT INTO events (type, profile_id, data)
     SELECT e.type, e.profile_id, e.data
       FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (type text, profile_id uuid, data jsonb)) WITH ORDINALITY AS e(type, profile_id, data, n)
      ORDER BY e.n`,
    [JSON.stringify(events.map((e) => ({ type: e.type, profile_id: e.profileId, data: e.data })))],
  );
}

/** The traits whose value changed, as {name: {before, after}}; a removed trait has after undefined. */
export function changedTraits(before: Record<string, unknown>, after: Record<string, unknown>): Record<string, { before: unknown; after: unknown }> {
  const changed: Record<string, { before: unknown; after: unknown }> = {};
  for (const name of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (JSON.stringify(before[name]) !== JSON.stringify(after[name])) changed[name] = { before: before[name] ?? null, after: after[name] ?? null };
  }
  return changed;
}
