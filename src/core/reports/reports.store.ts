import type { Db } from '../store/db.js';
import { HubError } from '../errors.js';

export type Interval = 'day' | 'week' | 'month';
export const INTERVALS: readonly Interval[] = ['day', 'week', 'month'];

/** ISO 4217's code for "no currency": amounts sent without one are grouped under it, never added to another's. */
export const NO_CURRENCY = 'XXX';

export type Overview = {
  profiles: { live: number; merged: number };
  records: { total: number; contacts: number; interactions: number };
  interactionsByChannel: { channel: string; count: number }[];
  sources: number;
  merges: number;
  firstRecordAt: string | null;
  lastRecordAt: string | null;
};

export type SourceRow = {
  source: string;
  records: number;
  contacts: number;
  interactions: number;
  profiles: number;
  duplicateRecords: number;
  duplicateRate: number;
};

export type Amount = { currency: string; amount: number };
export type InteractionRow = { period: string; channel: string; count: number; amounts: Amount[] };
export type RangeQuery = { from: string; to: string; interval: Interval };

export type CustomerQuery = { sort: 'value' | 'recency'; order: 'asc' | 'desc'; currency?: string; limit: number; cursor?: string; asOf: string };
export type Customer = {
  profileId: string;
  name: string | null;
  company: string | null;
  currency?: string;
  value?: number;
  stage?: 'payment' | 'invoice' | 'order';
  lastInteractionAt?: string;
  daysSinceLastInteraction?: number;
};
export type NewReturningRow = { period: string; new: number; returning: number };

function iso(value: unknown): string {
  return value instanceof Date ? value.toISOString() : new Date(String(value)).toISOString();
}

function encodeCursor(parts: string[]): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

/** A cursor this API returned for the same sort, or a 400; never a bad cast in SQL. */
function decodeCursor(cursor: string, check: (parts: string[]) => boolean): string[] {
  try {
    const parts: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parts) && parts.every((p) => typeof p === 'string') && check(parts as string[])) return parts as string[];
  } catch {
    // falls through to the error below
  }
  throw new HubError('VALIDATION', 'cursor is not one this API returned for this sort', { errors: [{ path: '/querystring/cursor', message: 'invalid cursor' }] });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NUMERIC = /^-?\d+(\.\d+)?$/;

function displayName(traits: Record<string, unknown>): string | null {
  const full = traits['fullName'];
  if (typeof full === 'string' && full.trim()) return full;
  const parts = [traits['firstName'], traits['lastName']].filter((p): p is string => typeof p === 'string' && p.trim() !== '');
  return parts.length > 0 ? parts.join(' ') : null;
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

// An amount counts only when it is a JSON number (the record schema says so; old rows are not trusted blindly).
const AMOUNT = `CASE WHEN jsonb_typeof(interaction->'amount') = 'number' THEN (interaction->>'amount')::numeric END`;

/**
 * The analytical queries behind /v1/reports. Records are the truth, so every figure is computed
 * from them (and from profiles/profile_merges for merge counts); the indexes of migration 006 keep
 * them to index scans where PostgreSQL can use one.
 */
export function createReportsStore(db: Db) {
  async function overview(): Promise<Overview> {
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

  /**
   * Per source: its records, the profiles they belong to, and how duplicated the source is: the
   * share of its records whose profile also holds records from another source (the records that
   * joined a person some other system already knew, or that another system's records later joined).
   */
  async function sources(): Promise<SourceRow[]> {
    const rows = (
      await db.query<{ source: string; records: number; contacts: number; profiles: number; duplicates: number }>(
        // One pass over the (profile, source) index, in profile order: the window counts each profile's sources.
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

  /** Interactions per channel per UTC period in [from, to), with their amounts per currency. */
  async function interactions(range: RangeQuery & { channel?: string }): Promise<InteractionRow[]> {
    const params: unknown[] = [range.from, range.to, range.interval];
    let channelFilter = '';
    if (range.channel) {
      params.push(range.channel);
      channelFilter = `AND interaction->>'channel' = $4`;
    }
    const rows = (
      await db.query<{ period: Date; channel: string; currency: string; count: number; amount: number | null }>(
        `SELECT date_trunc($3, occurred_at, 'UTC') AS period, COALESCE(interaction->>'channel', 'other') AS channel,
                COALESCE(interaction->>'currency', '${NO_CURRENCY}') AS currency, count(*)::int AS count, sum(${AMOUNT})::float8 AS amount
           FROM records
          WHERE kind = 'interaction' AND occurred_at >= $1::timestamptz AND occurred_at < $2::timestamptz ${channelFilter}
          GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
        params,
      )
    ).rows;
    const series = new Map<string, InteractionRow>();
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

  /**
   * Customers ranked by what they paid or by how long they have been silent. Value follows the
   * profile's totalAmount rule: an order, its invoice and its payment are one sale told three
   * times, so per profile and currency only the most settled stage reported counts (payments,
   * else invoices, else orders). Currencies are never added together: without ?currency= a customer
   * who paid in two currencies is ranked once per currency.
   */
  async function customers(q: CustomerQuery): Promise<{ data: Customer[]; nextCursor: string | null }> {
    return q.sort === 'value' ? byValue(q) : byRecency(q);
  }

  async function byValue(q: CustomerQuery) {
    const params: unknown[] = [];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    const where = [`kind = 'interaction'`, `interaction->>'channel' IN ('order', 'invoice', 'payment')`, `jsonb_typeof(interaction->'amount') = 'number'`];
    if (q.currency) where.push(q.currency === NO_CURRENCY ? `interaction->>'currency' IS NULL` : `interaction->>'currency' = ${param(q.currency)}`);
    const [cmp, idCmp] = q.order === 'desc' ? ['<', '>'] : ['>', '>'];
    let after = '';
    if (q.cursor) {
      const [value, id, currency] = decodeCursor(q.cursor, (p) => p.length === 3 && NUMERIC.test(p[0] ?? '') && UUID.test(p[1] ?? '') && /^[A-Z]{3}$/.test(p[2] ?? ''));
      after = `WHERE v.value ${cmp} ${param(value)}::numeric OR (v.value = ${param(value)}::numeric AND (v.profile_id, v.currency) ${idCmp} (${param(id)}::uuid, ${param(currency)}))`;
    }
    const direction = q.order === 'desc' ? 'DESC' : 'ASC';
    const rows = (
      await db.query<{ profile_id: string; currency: string; value: string; stage: 'payment' | 'invoice' | 'order'; traits: Record<string, unknown> }>(
        `WITH v AS (
           SELECT profile_id, COALESCE(interaction->>'currency', '${NO_CURRENCY}') AS currency,
                  COALESCE(sum(${AMOUNT}) FILTER (WHERE interaction->>'channel' = 'payment'),
                           sum(${AMOUNT}) FILTER (WHERE interaction->>'channel' = 'invoice'),
                           sum(${AMOUNT}) FILTER (WHERE interaction->>'channel' = 'order')) AS value,
                  CASE WHEN bool_or(interaction->>'channel' = 'payment') THEN 'payment'
                       WHEN bool_or(interaction->>'channel' = 'invoice') THEN 'invoice' ELSE 'order' END AS stage
             FROM records WHERE ${where.join(' AND ')}
            GROUP BY 1, 2)
         SELECT v.profile_id, v.currency, v.value::text AS value, v.stage, p.traits
           FROM (SELECT * FROM v ${after} ORDER BY value ${direction}, profile_id, currency LIMIT ${param(q.limit + 1)}) v
           JOIN profiles p ON p.id = v.profile_id
          ORDER BY v.value ${direction}, v.profile_id, v.currency`,
        params,
      )
    ).rows;
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return {
      data: page.map((r) => ({
        profileId: r.profile_id,
        name: displayName(r.traits),
        company: text(r.traits['company']),
        currency: r.currency,
        value: Number(r.value),
        stage: r.stage,
      })),
      nextCursor: rows.length > q.limit && last ? encodeCursor([last.value, last.profile_id, last.currency]) : null,
    };
  }

  /** `asc`: the most recently active first; `desc`: the longest silent first. Profiles without interactions are not ranked. */
  async function byRecency(q: CustomerQuery) {
    const params: unknown[] = [q.asOf];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    // Fewer days since = a later last interaction.
    const direction = q.order === 'asc' ? 'DESC' : 'ASC';
    let after = '';
    if (q.cursor) {
      const [at, id] = decodeCursor(q.cursor, (p) => p.length === 2 && !Number.isNaN(Date.parse(p[0] ?? '')) && UUID.test(p[1] ?? ''));
      after = `WHERE r.last_at ${direction === 'DESC' ? '<' : '>'} ${param(at)}::timestamptz OR (r.last_at = ${param(at)}::timestamptz AND r.profile_id > ${param(id)}::uuid)`;
    }
    const rows = (
      await db.query<{ profile_id: string; last_at: Date; days: number; traits: Record<string, unknown> }>(
        `WITH r AS (SELECT profile_id, max(occurred_at) AS last_at FROM records WHERE kind = 'interaction' GROUP BY profile_id)
         SELECT r.profile_id, r.last_at, GREATEST(0, floor(extract(epoch FROM ($1::timestamptz - r.last_at)) / 86400))::int AS days, p.traits
           FROM (SELECT * FROM r ${after} ORDER BY last_at ${direction}, profile_id LIMIT ${param(q.limit + 1)}) r
           JOIN profiles p ON p.id = r.profile_id
          ORDER BY r.last_at ${direction}, r.profile_id`,
        params,
      )
    ).rows;
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return {
      data: page.map((r) => ({
        profileId: r.profile_id,
        name: displayName(r.traits),
        company: text(r.traits['company']),
        lastInteractionAt: iso(r.last_at),
        daysSinceLastInteraction: r.days,
      })),
      nextCursor: rows.length > q.limit && last ? encodeCursor([iso(last.last_at), last.profile_id]) : null,
    };
  }

  /**
   * Per UTC period in [from, to) (the first and last periods clipped to the range): new = profiles
   * whose first record (any kind, by occurredAt) falls in it; returning = profiles whose first record
   * is before it and that have an interaction in it.
   */
  async function newVsReturning(range: RangeQuery): Promise<NewReturningRow[]> {
    const rows = (
      await db.query<{ period: Date; new: number; returning: number }>(
        // A profile first seen before `from` returns in every period it visits; one first seen in the
        // range has its first record in the range: only the range and each such profile's earlier rows are read.
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

  async function mergeCount(): Promise<number> {
    const row = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM profile_merges')).rows[0];
    return row?.n ?? 0;
  }

  return { overview, sources, interactions, customers, newVsReturning, mergeCount };
}

export type ReportsStore = ReturnType<typeof createReportsStore>;
