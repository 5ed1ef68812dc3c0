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

/** The event-driven alerts for a batch of outbox events (only interaction.created counts). */
export function alertsForEvents(rules: readonly AlertRuleConfig[], events: readonly { type: string; profileId: string | null; data: Record<string, unknown> }[]): AlertCandidate[] {
  const found: AlertCandidate[] = [];
  for (const event of events) {
    if (event.type !== 'interaction.created') continue;
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

async function inactive(db: Db, rule: Extract<AlertRuleConfig, { kind: 'inactive' }>): Promise<AlertCandidate[]> {
  // The key holds the time of the last interaction: a later interaction starts a new period, which may fire again.
  const rows = (
    await db.query<{ profile_id: string; last: Date; key: string }>(
      `SELECT profile_id, last, key FROM (
         SELECT r.profile_id, max(r.occurred_at) AS last,
                r.profile_id::text || '@' || floor(extract(epoch FROM max(r.occurred_at)) * 1000)::bigint::text AS key
           FROM records r JOIN profiles p ON p.id = r.profile_id AND p.merged_into IS NULL
          WHERE r.kind = 'interaction'
          GROUP BY r.profile_id
         HAVING max(r.occurred_at) <= now() - $1::float8 * interval '1 day') s
        WHERE NOT EXISTS (SELECT 1 FROM alerts_fired f WHERE f.rule = $2 AND f.key = s.key)
        ORDER BY last LIMIT ${CHECK_LIMIT}`,
      [rule.days, rule.name],
    )
  ).rows;
  return rows.map((r) => ({
    rule: rule.name,
    key: r.key,
    profileId: r.profile_id,
    reason: `no interaction for ${rule.days} days; the last was at ${r.last.toISOString()}`,
    data: { lastInteractionAt: r.last.toISOString(), days: rule.days },
  }));
}

/** Runs the scheduled rules (missedCallNoCallback, inactive) once; returns how many alerts fired. */
export async function runScheduledAlerts(db: Db, rules: readonly AlertRuleConfig[]): Promise<number> {
  let fired = 0;
  for (const rule of rules) {
    const candidates = rule.kind === 'missedCallNoCallback' ? await missedCalls(db, rule) : rule.kind === 'inactive' ? await inactive(db, rule) : [];
    if (candidates.length > 0) fired += await db.transaction((tx) => fireAlerts(tx, candidates));
  }
  return fired;
}
