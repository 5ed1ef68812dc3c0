import type { AlertRuleConfig } from '../config/config.schema.js';
import type { Db } from '../store/db.js';
import { appendEvents, type HubEvent } from './outbox.js';

/** An alert a rule decided on: `key` names the occasion, so the same occasion never fires twice. */
export type AlertCandidate = { rule: string; key: string; profileId: string | null; reason: string; data: Record<string, unknown> };

type InteractionEvent = { profileId: string | null; data: Record<string, unknown> };

export const DEFAULT_MISSED_STATUSES = ['missed', 'no-answer', 'no answer', 'busy', 'canceled', 'cancelled', 'unanswered'];

/** Case-insensitive in any script; ё and е compare equal, as Russian text often mixes them. */
function fold(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/ё/g, 'е');
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function interactionRef(event: InteractionEvent) {
  const d = event.data;
  return { source: d['source'], sourceId: d['sourceId'], channel: d['channel'], occurredAt: d['occurredAt'] };
}

/** The alert one event-driven rule (complaint, largeOrder) raises for a new interaction, if any. */
export function evaluateInteraction(rule: AlertRuleConfig, event: InteractionEvent): AlertCandidate | null {
  const d = event.data;
  const channel = str(d['channel']) ?? 'other';
  const key = `${String(d['source'])}:${String(d['sourceId'])}`;
  const base = { rule: rule.name, key, profileId: event.profileId };
  if (rule.kind === 'complaint') {
    if (!(rule.channels ?? ['feedback', 'ticket']).includes(channel)) return null;
    const status = str(d['status']);
    if (status !== undefined && (rule.statuses ?? []).some((s) => fold(s) === fold(status))) {
      return { ...base, reason: `${channel} with status "${status}"`, data: { interaction: interactionRef(event), status } };
    }
    for (const field of ['subject', 'body'] as const) {
      const text = str(d[field]);
      if (text === undefined) continue;
      const folded = fold(text);
      const keyword = (rule.keywords ?? []).find((k) => folded.includes(fold(k)));
      if (keyword !== undefined) return { ...base, reason: `${channel} ${field} contains "${keyword}"`, data: { interaction: interactionRef(event), keyword } };
    }
    return null;
  }
  if (rule.kind === 'largeOrder') {
    if (!(rule.channels ?? ['order', 'invoice', 'payment']).includes(channel)) return null;
    const amount = d['amount'];
    if (typeof amount !== 'number' || !(amount > rule.amount)) return null;
    const currency = str(d['currency']);
    if (rule.currency !== undefined && currency?.toUpperCase() !== rule.currency.toUpperCase()) return null;
    const unit = currency ? ` ${currency}` : '';
    return { ...base, reason: `${channel} of ${amount}${unit} is above ${rule.amount}${rule.currency ? ` ${rule.currency}` : ''}`, data: { interaction: interactionRef(event), amount, currency: currency ?? null } };
  }
  return null;
}

/** The one event type alert rules look at. */
export const ALERTED_EVENT = 'interaction.created';

/** The event-driven alerts for a batch of outbox events (only interaction.created counts). */
export function alertsForEvents(rules: readonly AlertRuleConfig[], events: readonly { type: string; profileId: string | null; data: Record<string, unknown> }[]): AlertCandidate[] {
  const found: AlertCandidate[] = [];
  for (const event of events) {
    if (event.type !== ALERTED_EVENT) continue;
    for (const rule of rules) {
      const alert = evaluateInteraction(rule, event);
      if (alert) found.push(alert);
    }
  }
  return found;
}

/**
 * Records the alerts as fired and appends the ones fired for the first time to the outbox, in the
 * caller's transaction: a re-run, or a second worker at the same moment, fires nothing again.
 */
export async function fireAlerts(tx: Pick<Db, 'query'>, alerts: readonly AlertCandidate[]): Promise<number> {
  if (alerts.length === 0) return 0;
  const fresh = (
    await tx.query<{ rule: string; key: string }>(
      `INSERT INTO alerts_fired (rule, key, profile_id)
       SELECT rule, key, profile_id FROM jsonb_to_recordset($1::jsonb) AS a(rule text, key text, profile_id uuid) ORDER BY rule, key
       ON CONFLICT (rule, key) DO NOTHING RETURNING rule, key`,
      [JSON.stringify(alerts.map((a) => ({ rule: a.rule, key: a.key, profile_id: a.profileId })))],
    )
  ).rows;
  const firedNow = new Set(fresh.map((f) => `${f.rule}\u0000${f.key}`));
  const seen = new Set<string>();
  const events: HubEvent[] = [];
  for (const a of alerts) {
    const id = `${a.rule}\u0000${a.key}`;
    if (!firedNow.has(id) || seen.has(id)) continue;
    seen.add(id);
    events.push({ type: `alert.${a.rule}`, profileId: a.profileId, data: { rule: a.rule, reason: a.reason, ...a.data } });
  }
  await appendEvents(tx, events);
  return events.length;
}

const CHECK_LIMIT = 1000;

async function missedCalls(db: Db, rule: Extract<AlertRuleConfig, { kind: 'missedCallNoCallback' }>): Promise<AlertCandidate[]> {
  const minutes = rule.withinMinutes ?? 30;
  const rows = (
    await db.query<{ source: string; source_id: string; profile_id: string; occurred_at: Date; status: string }>(
      `SELECT m.source, m.source_id, m.profile_id, m.occurred_at, m.interaction->>'status' AS status
         FROM records m
        WHERE m.kind = 'interaction' AND m.interaction->>'channel' = 'call' AND m.interaction->>'direction' = 'inbound'
          AND lower(m.interaction->>'status') = ANY($1::text[])
          AND m.occurred_at <= now() - $2::float8 * interval '1 minute'
          AND m.occurred_at > now() - $3::float8 * interval '1 hour'
          AND NOT EXISTS (SELECT 1 FROM records o
                           WHERE o.profile_id = m.profile_id AND o.kind = 'interaction'
                             AND o.interaction->>'channel' = 'call' AND o.interaction->>'direction' = 'outbound'
                             AND o.occurred_at >= m.occurred_at AND o.occurred_at <= m.occurred_at + $2::float8 * interval '1 minute')
          AND NOT EXISTS (SELECT 1 FROM alerts_fired f WHERE f.rule = $4 AND f.key = m.source || ':' || m.source_id)
        ORDER BY m.occurred_at LIMIT ${CHECK_LIMIT}`,
      [(rule.statuses ?? DEFAULT_MISSED_STATUSES).map((s) => s.toLowerCase()), minutes, rule.lookbackHours ?? 72, rule.name],
    )
  ).rows;
  return rows.map((r) => ({
    rule: rule.name,
    key: `${r.source}:${r.source_id}`,
    profileId: r.profile_id,
    reason: `inbound call ${r.status} at ${r.occurred_at.toISOString()} and no outbound call to this customer within ${minutes} minutes`,
    data: { interaction: { source: r.source, sourceId: r.source_id, channel: 'call', occurredAt: r.occurred_at.toISOString() }, status: r.status },
  }));
}

/**
 * Folds the report rollups up to now (rollups.ts): `to`, the fold read the profiles changed until
 * then; `until`, every change stamped before it is folded in, even one that committed late.
 */
export type Fold = () => Promise<{ to: string; until: string | null }>;

type InactiveRow = { profile_id: string; last: Date; key: string };
// Past the last uuid: a cursor at (t, MAX_ID) has passed every profile whose last interaction is at t.
const MAX_ID = 'ffffffff-ffff-ffff-ffff-ffffffffffff';
// Before the first: a cursor at (t, MIN_ID) has passed none changed at t.
const MIN_ID = '00000000-0000-0000-0000-000000000000';
/** Changed profiles read per page, and pages per check, when looking for ones already long quiet. */
const CHANGED_PAGE = 5000;
const CHANGED_PAGES = 20;

/**
 * Profiles whose last interaction is `days` old, from the report rollups' last interaction per
 * profile (report_profiles, after a fold) rather than from every interaction: a cursor walks the
 * last-interaction index as time passes (the profiles that fell quiet since the last check), and a
 * second one the profiles changed since (a new profile with old history, a split, a merge). The key
 * holds the time of the last interaction: a later interaction starts a new period, which may fire again.
 */
async function inactive(db: Db, rule: Extract<AlertRuleConfig, { kind: 'inactive' }>, fold: Fold): Promise<AlertCandidate[]> {
  const { to, until } = await fold();
  const state = (
    await db.query<{ days: number; last_at: string | null; last_id: string | null; changed_at: string | null; changed_id: string | null; threshold: string; now: string }>(
      `SELECT c.days, c.last_at::text AS last_at, c.last_id, c.changed_at::text AS changed_at, c.changed_id,
              (now() - $2::float8 * interval '1 day')::text AS threshold, now()::text AS now
         FROM (SELECT 1) one LEFT JOIN alert_cursors c ON c.rule = $1`,
      [rule.name, rule.days],
    )
  ).rows[0];
  if (!state) return [];
  // A new rule, or one whose days changed, starts over: every quiet profile from the oldest, and changes from now on.
  const fresh = state.days !== rule.days;
  const last = fresh ? null : state.last_at !== null && state.last_id !== null ? [state.last_at, state.last_id] : null;
  const fired = `NOT EXISTS (SELECT 1 FROM alerts_fired f WHERE f.rule = $1 AND f.key = rp.profile_id::text || '@' || floor(extract(epoch FROM rp.last_interaction_at) * 1000)::bigint::text)`;
  const keyOf = `rp.profile_id::text || '@' || floor(extract(epoch FROM rp.last_interaction_at) * 1000)::bigint::text AS key`;

  const quiet = (
    await db.query<InactiveRow>(
      `SELECT rp.profile_id, rp.last_interaction_at AS last, ${keyOf} FROM report_profiles rp
        WHERE rp.last_interaction_at IS NOT NULL AND rp.last_interaction_at <= $2::timestamptz ${last ? 'AND (rp.last_interaction_at, rp.profile_id) > ($3::timestamptz, $4::uuid)' : ''}
          AND ${fired}
        ORDER BY rp.last_interaction_at, rp.profile_id LIMIT ${CHECK_LIMIT}`,
      [rule.name, state.threshold, ...(last ?? [])],
    )
  ).rows;
  const lastRow = quiet[quiet.length - 1];
  const nextLast = quiet.length === CHECK_LIMIT && lastRow ? [lastRow.last.toISOString(), lastRow.profile_id] : [state.threshold, MAX_ID];

  // Changes folded in since the last check: profiles already quiet that the walk above has passed.
  let changed: [string, string] | null = fresh || state.changed_at === null || state.changed_id === null ? null : [state.changed_at, state.changed_id];
  const found: InactiveRow[] = [];
  if (changed !== null && until !== null) {
    let read: [string, string] = changed;
    for (let page = 0; page < CHANGED_PAGES && found.length + quiet.length < CHECK_LIMIT; page += 1) {
      const rows: (InactiveRow & { at: string; id: string; late: boolean; due: boolean })[] = (
        await db.query<InactiveRow & { at: string; id: string; late: boolean; due: boolean }>(
          `WITH c AS (
             SELECT id, updated_at FROM profiles
              WHERE merged_into IS NULL AND (updated_at, id) > ($3::timestamptz, $4::uuid) AND updated_at <= $5::timestamptz
              ORDER BY updated_at, id LIMIT ${CHANGED_PAGE})
           SELECT c.id, c.updated_at::text AS at, c.updated_at >= $6::timestamptz AS late, rp.profile_id, rp.last_interaction_at AS last, ${keyOf},
                  COALESCE(rp.last_interaction_at <= $2::timestamptz AND ${fired}, false) AS due
             FROM c LEFT JOIN report_profiles rp ON rp.profile_id = c.id
            ORDER BY c.updated_at, c.id`,
          [rule.name, state.threshold, read[0], read[1], to, until],
        )
      ).rows;
      found.push(...rows.filter((r) => r.due));
      const end = rows[rows.length - 1];
      if (!end) break;
      read = [end.at, end.id];
      // Changes from `until` on may still be joined by ones that commit later: read them again next time.
      changed = end.late ? [until, MIN_ID] : read;
      if (rows.length < CHANGED_PAGE) break;
    }
  }
  // A rule met for the first time starts at the fold's `until`.
  const nextChanged = changed ?? (until !== null ? [until, MIN_ID] : null);
  await db.query(
    `INSERT INTO alert_cursors (rule, days, last_at, last_id, changed_at, changed_id) VALUES ($1, $2, $3::timestamptz, $4::uuid, $5::timestamptz, $6::uuid)
     ON CONFLICT (rule) DO UPDATE SET days = excluded.days, last_at = excluded.last_at, last_id = excluded.last_id,
       changed_at = COALESCE(excluded.changed_at, alert_cursors.changed_at), changed_id = COALESCE(excluded.changed_id, alert_cursors.changed_id)`,
    [rule.name, rule.days, nextLast[0], nextLast[1], nextChanged?.[0] ?? null, nextChanged?.[1] ?? null],
  );
  const candidates = new Map<string, InactiveRow>();
  for (const r of [...quiet, ...found]) candidates.set(r.key, r);
  return [...candidates.values()].map((r) => ({
    rule: rule.name,
    key: r.key,
    profileId: r.profile_id,
    reason: `no interaction for ${rule.days} days; the last was at ${r.last.toISOString()}`,
    data: { lastInteractionAt: r.last.toISOString(), days: rule.days },
  }));
}

/** Runs the scheduled rules (missedCallNoCallback, inactive) once; returns how many alerts fired. */
export async function runScheduledAlerts(db: Db, rules: readonly AlertRuleConfig[], fold: Fold): Promise<number> {
  let fired = 0;
  for (const rule of rules) {
    const candidates = rule.kind === 'missedCallNoCallback' ? await missedCalls(db, rule) : rule.kind === 'inactive' ? await inactive(db, rule, fold) : [];
    if (candidates.length > 0) fired += await db.transaction((tx) => fireAlerts(tx, candidates));
  }
  return fired;
}
