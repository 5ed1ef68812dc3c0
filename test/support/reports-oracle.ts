// The reports as they were computed before the rollups: every figure read straight from the
// records, in SQL. Tests compare the rollup-backed reports (src/core/reports) with these after
// each kind of change, so the rollups must follow the records exactly.
import type { Db } from '../../src/core/store/db.js';

const AMOUNT = `CASE WHEN jsonb_typeof(interaction->'amount') = 'number' THEN (interaction->>'amount')::numeric END`;

function iso(value: unknown): string {
  return value instanceof Date ? value.toISOString() : new Date(String(value)).toISOString();
}

export async function oracleOverview(db: Db) {
  const totals = (
    await db.query<{ live: number; merged: number; merges: number; first_at: Date | null; last_at: Date | null }>(
      `SELECT (SELECT count(*) FROM profiles WHERE merged_into IS NULL)::int AS live,
              (SELECT count(*) FROM profiles WHERE merged_into IS NOT NULL)::int AS merged,
              (SELECT count(*) FROM profile_merges)::int AS merges,
              (SELECT min(occurred_at) FROM records) AS first_at,
              (SELECT max(occurred_at) FROM records) AS last_at`,
    )
  ).rows[0];
  const kinds = (
    await db.query<{ source: string; kind: string; channel: string | null; count: number }>(
      `SELECT source, kind, CASE WHEN kind = 'interaction' THEN COALESCE(interaction->>'channel', 'other') END AS channel, count(*)::int AS count
         FROM records GROUP BY 1, 2, 3`,
    )
  ).rows;
  const byChannel = new Map<string, number>();
  for (const k of kinds) if (k.channel !== null) byChannel.set(k.channel, (byChannel.get(k.channel) ?? 0) + k.count);
  const sum = (rows: typeof kinds) => rows.reduce((s, r) => s + r.count, 0);
  return {
    profiles: { live: totals?.live ?? 0, merged: totals?.merged ?? 0 },
    records: { total: sum(kinds), contacts: sum(kinds.filter((k) => k.kind === 'contact')), interactions: sum(kinds.filter((k) => k.kind === 'interaction')) },
    interactionsByChannel: [...byChannel].map(([channel, count]) => ({ channel, count })).sort((a, b) => b.count - a.count || a.channel.localeCompare(b.channel)),
    sources: new Set(kinds.map((k) => k.source)).size,
    merges: totals?.merges ?? 0,
    firstRecordAt: totals?.first_at ? iso(totals.first_at) : null,
    lastRecordAt: totals?.last_at ? iso(totals.last_at) : null,
  };
}

export async function oracleSources(db: Db) {
  const rows = (
    await db.query<{ source: string; records: number; contacts: number; profiles: number; duplicates: number }>(
      `SELECT source, sum(n)::int AS records, sum(contacts)::int AS contacts, count(*)::int AS profiles,
              COALESCE(sum(n) FILTER (WHERE sources_here > 1), 0)::int AS duplicates
         FROM (SELECT source, n, contacts, count(*) OVER (PARTITION BY profile_id) AS sources_here
                 FROM (SELECT profile_id, source, count(*) AS n, count(*) FILTER (WHERE kind = 'contact') AS contacts
                         FROM records GROUP BY profile_id, source) per) x
        GROUP BY source ORDER BY source`,
    )
  ).rows;
  return rows.map((r) => ({
    source: r.source,
    records: r.records,
    contacts: r.contacts,
    interactions: r.records - r.contacts,
    profiles: r.profiles,
    duplicateRecords: r.duplicates,
    duplicateRate: r.records > 0 ? r.duplicates / r.records : 0,
  }));
}

export async function oracleInteractions(db: Db, range: { from: string; to: string; interval: string; channel?: string }) {
  const params: unknown[] = [range.from, range.to, range.interval];
  let channelFilter = '';
  if (range.channel) {
    params.push(range.channel);
    channelFilter = `AND interaction->>'channel' = $4`;
  }
  const rows = (
    await db.query<{ period: Date; channel: string; currency: string; count: number; amount: number | null }>(
      `SELECT date_trunc($3, occurred_at, 'UTC') AS period, COALESCE(interaction->>'channel', 'other') AS channel,
              COALESCE(interaction->>'currency', 'XXX') AS currency, count(*)::int AS count, sum(${AMOUNT})::float8 AS amount
         FROM records
        WHERE kind = 'interaction' AND occurred_at >= $1::timestamptz AND occurred_at < $2::timestamptz ${channelFilter}
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
      params,
    )
  ).rows;
  const series = new Map<string, { period: string; channel: string; count: number; amounts: { currency: string; amount: number }[] }>();
  for (const r of rows) {
    const period = iso(r.period);
    const key = `${period}\u0000${r.channel}`;
    const row = series.get(key) ?? { period, channel: r.channel, count: 0, amounts: [] };
    row.count += r.count;
    if (r.amount !== null) row.amounts.push({ currency: r.currency, amount: r.amount });
    series.set(key, row);
  }
  return [...series.values()];
}

/** Every customer by value, in the report's order (no paging). */
export async function oracleByValue(db: Db, order: 'asc' | 'desc', currency?: string) {
  const where = [`kind = 'interaction'`, `interaction->>'channel' IN ('order', 'invoice', 'payment')`, `jsonb_typeof(interaction->'amount') = 'number'`];
  const params: unknown[] = [];
  if (currency === 'XXX') where.push(`interaction->>'currency' IS NULL`);
  else if (currency) {
    params.push(currency);
    where.push(`interaction->>'currency' = $1`);
  }
  const direction = order === 'desc' ? 'DESC' : 'ASC';
  const rows = (
    await db.query<{ profile_id: string; currency: string; value: string; stage: string }>(
      `SELECT profile_id, currency, v.value::text AS value, stage FROM (
         SELECT profile_id, COALESCE(interaction->>'currency', 'XXX') AS currency,
                COALESCE(sum(${AMOUNT}) FILTER (WHERE interaction->>'channel' = 'payment'),
                         sum(${AMOUNT}) FILTER (WHERE interaction->>'channel' = 'invoice'),
                         sum(${AMOUNT}) FILTER (WHERE interaction->>'channel' = 'order')) AS value,
                CASE WHEN bool_or(interaction->>'channel' = 'payment') THEN 'payment'
                     WHEN bool_or(interaction->>'channel' = 'invoice') THEN 'invoice' ELSE 'order' END AS stage
           FROM records WHERE ${where.join(' AND ')}
          GROUP BY 1, 2) v
        ORDER BY v.value ${direction}, profile_id, currency`,
      params,
    )
  ).rows;
  return rows.map((r) => ({ profileId: r.profile_id, currency: r.currency, value: Number(r.value), stage: r.stage }));
}

/** Every customer by recency, in the report's order (no paging). */
export async function oracleByRecency(db: Db, order: 'asc' | 'desc', asOf: string) {
  const direction = order === 'asc' ? 'DESC' : 'ASC';
  const rows = (
    await db.query<{ profile_id: string; last_at: Date; days: number }>(
      `SELECT profile_id, max(occurred_at) AS last_at,
              GREATEST(0, floor(extract(epoch FROM ($1::timestamptz - max(occurred_at))) / 86400))::int AS days
         FROM records WHERE kind = 'interaction' GROUP BY profile_id ORDER BY 2 ${direction}, 1`,
      [asOf],
    )
  ).rows;
  return rows.map((r) => ({ profileId: r.profile_id, lastInteractionAt: iso(r.last_at), daysSinceLastInteraction: r.days }));
}

export async function oracleNewVsReturning(db: Db, range: { from: string; to: string; interval: string }) {
  const rows = (
    await db.query<{ period: Date; new: number; returning: number }>(
      `WITH inrange AS (
         SELECT profile_id, kind, occurred_at FROM records WHERE occurred_at >= $1::timestamptz AND occurred_at < $2::timestamptz),
       first AS (
         SELECT i.profile_id, min(i.occurred_at) AS first_at,
                EXISTS (SELECT 1 FROM records r WHERE r.profile_id = i.profile_id AND r.occurred_at < $1::timestamptz) AS seen_before
           FROM inrange i GROUP BY i.profile_id),
       visits AS (
         SELECT DISTINCT date_trunc($3, occurred_at, 'UTC') AS period, profile_id FROM inrange WHERE kind = 'interaction')
       SELECT period, sum(is_new)::int AS new, sum(is_returning)::int AS returning FROM (
         SELECT date_trunc($3, first_at, 'UTC') AS period, 1 AS is_new, 0 AS is_returning FROM first WHERE NOT seen_before
         UNION ALL
         SELECT v.period, 0, 1 FROM visits v JOIN first f ON f.profile_id = v.profile_id
          WHERE f.seen_before OR f.first_at < GREATEST(v.period, $1::timestamptz)
       ) x GROUP BY period ORDER BY period`,
      [range.from, range.to, range.interval],
    )
  ).rows;
  return rows.map((r) => ({ period: iso(r.period), new: r.new, returning: r.returning }));
}
