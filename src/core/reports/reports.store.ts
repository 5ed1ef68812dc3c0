import type { Db } from '../store/db.js';
import { HubError } from '../errors.js';
import { AMOUNT, createReportRollups, NO_CHANNEL, NO_CURRENCY } from './rollups.js';

export { NO_CURRENCY } from './rollups.js';

export type Interval = 'day' | 'week' | 'month';
export const INTERVALS: readonly Interval[] = ['day', 'week', 'month'];

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

const DAY_MS = 86_400_000;

/** Milliseconds of an ISO time from the routes (always whole milliseconds). */
function ms(value: string): number {
  return Date.parse(value);
}

function utcMonth(year: number, month: number): number {
  const d = new Date(0);
  // setUTCFullYear, unlike Date.UTC, leaves years 0-99 as they are.
  d.setUTCFullYear(year, month, 1);
  return d.getTime();
}

/** The start of the UTC period holding `at` (weeks start on Monday). */
function periodStart(at: number, interval: Interval): number {
  const day = Math.floor(at / DAY_MS) * DAY_MS;
  if (interval === 'day') return day;
  if (interval === 'week') return day - ((new Date(day).getUTCDay() + 6) % 7) * DAY_MS;
  const d = new Date(at);
  return utcMonth(d.getUTCFullYear(), d.getUTCMonth());
}

function nextPeriod(at: number, interval: Interval): number {
  const start = periodStart(at, interval);
  if (interval === 'day') return start + DAY_MS;
  if (interval === 'week') return start + 7 * DAY_MS;
  const d = new Date(start);
  return utcMonth(d.getUTCFullYear(), d.getUTCMonth() + 1);
}

/** [from, to) cut into the whole UTC days inside it and the parts of days at its ends. */
function days(from: number, to: number): { from: string; to: string; firstDay: string; endDay: string } {
  const firstDay = Math.min(to, Math.ceil(from / DAY_MS) * DAY_MS);
  const endDay = Math.max(firstDay, Math.floor(to / DAY_MS) * DAY_MS);
  const text = (t: number) => new Date(t).toISOString();
  return { from: text(from), to: text(to), firstDay: text(firstDay), endDay: text(endDay) };
}

// The channel as reported: interactions sent without one are counted under "other".
const CHANNEL = `CASE WHEN channel = '' THEN '${NO_CHANNEL}' ELSE channel END`;

/**
 * The queries behind /v1/reports. Records are the truth; the reports read the rollups of
 * migration 010 (rollups.ts), and each first folds in what changed since the last fold, so its
 * figures are those of the records as of the request. Only the parts of days at the ends of a
 * range are read from the records themselves.
 */
export function createReportsStore(db: Db) {
  const rollups = createReportRollups(db);

  async function overview(): Promise<Overview> {
    await rollups.fold();
    const totals = (
      await db.query<{ live: string | null; merged: string | null; merges: number; first_at: Date | null; last_at: Date | null }>(
        `SELECT (SELECT value FROM report_totals WHERE name = 'profiles.live') AS live,
                (SELECT value FROM report_totals WHERE name = 'profiles.merged') AS merged,
                (SELECT count(*) FROM profile_merges)::int AS merges,
                (SELECT min(occurred_at) FROM records) AS first_at,
                (SELECT max(occurred_at) FROM records) AS last_at`,
      )
    ).rows[0];
    const sources = (await db.query<{ records: string; contacts: string }>('SELECT records, contacts FROM report_sources WHERE records > 0')).rows;
    const channels = (
      await db.query<{ channel: string; count: string }>(`SELECT ${CHANNEL} AS channel, sum(interactions) AS count FROM report_days GROUP BY 1 HAVING sum(interactions) > 0`)
    ).rows;
    const total = sources.reduce((sum, s) => sum + Number(s.records), 0);
    const contacts = sources.reduce((sum, s) => sum + Number(s.contacts), 0);
    return {
      profiles: { live: Number(totals?.live ?? 0), merged: Number(totals?.merged ?? 0) },
      records: { total, contacts, interactions: total - contacts },
      interactionsByChannel: channels.map((c) => ({ channel: c.channel, count: Number(c.count) })).sort((a, b) => b.count - a.count || a.channel.localeCompare(b.channel)),
      sources: sources.length,
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
    await rollups.fold();
    const rows = (
      await db.query<{ source: string; records: string; contacts: string; profiles: string; duplicates: string }>(
        'SELECT source, records, contacts, profiles, duplicates FROM report_sources WHERE records > 0 ORDER BY source',
      )
    ).rows;
    return rows.map((r) => {
      const records = Number(r.records);
      const duplicates = Number(r.duplicates);
      return {
        source: r.source,
        records,
        contacts: Number(r.contacts),
        interactions: records - Number(r.contacts),
        profiles: Number(r.profiles),
        duplicateRecords: duplicates,
        duplicateRate: records > 0 ? duplicates / records : 0,
      };
    });
  }

  /** Interactions per channel per UTC period in [from, to), with their amounts per currency. */
  async function interactions(range: RangeQuery & { channel?: string }): Promise<InteractionRow[]> {
    await rollups.fold();
    const d = days(ms(range.from), ms(range.to));
    const params: unknown[] = [d.from, d.to, d.firstDay, d.endDay, range.interval];
    let dayFilter = '';
    let recordFilter = '';
    if (range.channel) {
      params.push(range.channel);
      dayFilter = `AND channel = $6`;
      recordFilter = `AND interaction->>'channel' = $6`;
    }
    const rows = (
      await db.query<{ period: Date; channel: string; currency: string; count: number; amount: number; amounts: number }>(
        // Whole days from the rollup, the parts of days at the ends from the records.
        `SELECT date_trunc($5, day, 'UTC') AS period, ${CHANNEL} AS channel, currency, sum(n)::int AS count, sum(amount)::float8 AS amount, sum(amounts)::int AS amounts
           FROM (SELECT day, channel, currency, interactions AS n, amount, amounts
                   FROM report_days WHERE day >= $3::timestamptz AND day < $4::timestamptz ${dayFilter}
                 UNION ALL
                 SELECT occurred_at, COALESCE(interaction->>'channel', ''), COALESCE(interaction->>'currency', '${NO_CURRENCY}'), 1, COALESCE(${AMOUNT}, 0), (${AMOUNT} IS NOT NULL)::int
                   FROM records
                  WHERE kind = 'interaction' ${recordFilter}
                    AND ((occurred_at >= $1::timestamptz AND occurred_at < $3::timestamptz) OR (occurred_at >= $4::timestamptz AND occurred_at < $2::timestamptz))) x
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
      if (r.amounts > 0) row.amounts.push({ currency: r.currency, amount: r.amount });
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
    await rollups.fold();
    return q.sort === 'value' ? byValue(q) : byRecency(q);
  }

  async function byValue(q: CustomerQuery) {
    const params: unknown[] = [];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    const currency = q.currency ? `currency = ${param(q.currency)}` : 'true';
    const direction = q.order === 'desc' ? 'DESC' : 'ASC';
    const limit = param(q.limit + 1);
    // Ordered by value (either way), then profile and currency ascending, as the indexes of
    // migration 010 hold them. After a cursor: the rest of its value, then the values beyond it,
    // each a range of one index, never a scan from the top.
    let page = `SELECT profile_id, currency, value, stage FROM report_profile_values WHERE ${currency} ORDER BY value ${direction}, profile_id, currency LIMIT ${limit}`;
    if (q.cursor) {
      const [value, id, cur] = decodeCursor(q.cursor, (p) => p.length === 3 && NUMERIC.test(p[0] ?? '') && UUID.test(p[1] ?? '') && /^[A-Z]{3}$/.test(p[2] ?? ''));
      const v = param(value);
      page = `(SELECT profile_id, currency, value, stage FROM report_profile_values
                WHERE ${currency} AND value = ${v}::numeric AND (profile_id, currency) > (${param(id)}::uuid, ${param(cur)})
                ORDER BY value ${direction}, profile_id, currency LIMIT ${limit})
              UNION ALL
              (SELECT profile_id, currency, value, stage FROM report_profile_values
                WHERE ${currency} AND value ${direction === 'DESC' ? '<' : '>'} ${v}::numeric
                ORDER BY value ${direction}, profile_id, currency LIMIT ${limit})`;
    }
    const rows = (
      await db.query<{ profile_id: string; currency: string; value: string; stage: 'payment' | 'invoice' | 'order'; traits: Record<string, unknown> }>(
        `SELECT v.profile_id, v.currency, v.value::text AS value, v.stage, p.traits
           FROM (SELECT * FROM (${page}) v ORDER BY value ${direction}, profile_id, currency LIMIT ${limit}) v
           JOIN profiles p ON p.id = v.profile_id
          ORDER BY v.value ${direction}, v.profile_id, v.currency`,
        params,
      )
    ).rows;
    const pageRows = rows.slice(0, q.limit);
    const last = pageRows[pageRows.length - 1];
    return {
      data: pageRows.map((r) => ({
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
    const limit = param(q.limit + 1);
    const live = 'last_interaction_at IS NOT NULL';
    let page = `SELECT profile_id, last_interaction_at FROM report_profiles WHERE ${live} ORDER BY last_interaction_at ${direction}, profile_id LIMIT ${limit}`;
    if (q.cursor) {
      const [at, id] = decodeCursor(q.cursor, (p) => p.length === 2 && !Number.isNaN(Date.parse(p[0] ?? '')) && UUID.test(p[1] ?? ''));
      const a = param(at);
      page = `(SELECT profile_id, last_interaction_at FROM report_profiles WHERE ${live} AND last_interaction_at = ${a}::timestamptz AND profile_id > ${param(id)}::uuid
                ORDER BY last_interaction_at ${direction}, profile_id LIMIT ${limit})
              UNION ALL
              (SELECT profile_id, last_interaction_at FROM report_profiles WHERE ${live} AND last_interaction_at ${direction === 'DESC' ? '<' : '>'} ${a}::timestamptz
                ORDER BY last_interaction_at ${direction}, profile_id LIMIT ${limit})`;
    }
    const rows = (
      await db.query<{ profile_id: string; last_at: Date; days: number; traits: Record<string, unknown> }>(
        `SELECT r.profile_id, r.last_interaction_at AS last_at,
                GREATEST(0, floor(extract(epoch FROM ($1::timestamptz - r.last_interaction_at)) / 86400))::int AS days, p.traits
           FROM (SELECT * FROM (${page}) r ORDER BY last_interaction_at ${direction}, profile_id LIMIT ${limit}) r
           JOIN profiles p ON p.id = r.profile_id
          ORDER BY r.last_interaction_at ${direction}, r.profile_id`,
        params,
      )
    ).rows;
    const pageRows = rows.slice(0, q.limit);
    const last = pageRows[pageRows.length - 1];
    return {
      data: pageRows.map((r) => ({
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
   * New and returning profiles in the part [x, y) of one period: new = first record in it;
   * returning = first record before x and an interaction in it. Whole days from the rollups, the
   * parts of days at the ends from the profiles' first records and from the records.
   */
  async function segment(x: number, y: number, interval: Interval): Promise<NewReturningRow> {
    const d = days(x, y);
    const row = (
      await db.query<{ new: number; returning: number }>(
        `SELECT ((SELECT COALESCE(sum(new), 0) FROM report_periods WHERE grain = 'day' AND period >= $3::timestamptz AND period < $4::timestamptz)
                 + (SELECT count(*) FROM report_profiles
                     WHERE (first_at >= $1::timestamptz AND first_at < $3::timestamptz) OR (first_at >= $4::timestamptz AND first_at < $2::timestamptz)))::int AS new,
                (SELECT count(*) FROM (
                   SELECT profile_id FROM report_profile_days WHERE day >= $3::timestamptz AND day < $4::timestamptz AND first_at < $1::timestamptz
                   UNION
                   SELECT r.profile_id FROM records r JOIN report_profiles p ON p.profile_id = r.profile_id
                    WHERE r.kind = 'interaction' AND p.first_at < $1::timestamptz
                      AND ((r.occurred_at >= $1::timestamptz AND r.occurred_at < $3::timestamptz) OR (r.occurred_at >= $4::timestamptz AND r.occurred_at < $2::timestamptz))
                 ) active)::int AS returning`,
        [d.from, d.to, d.firstDay, d.endDay],
      )
    ).rows[0];
    return { period: new Date(periodStart(x, interval)).toISOString(), new: row?.new ?? 0, returning: row?.returning ?? 0 };
  }

  /**
   * Per UTC period in [from, to) (the first and last periods clipped to the range): new = profiles
   * whose first record (any kind, by occurredAt) falls in it; returning = profiles whose first record
   * is before it and that have an interaction in it.
   */
  async function newVsReturning(range: RangeQuery): Promise<NewReturningRow[]> {
    await rollups.fold();
    const from = ms(range.from);
    const to = ms(range.to);
    const whole = periodStart(from, range.interval) === from ? from : nextPeriod(from, range.interval);
    const wholeEnd = periodStart(to, range.interval);
    if (whole > wholeEnd) return [await segment(from, to, range.interval)].filter((r) => r.new > 0 || r.returning > 0);
    // Whole periods from the rollup; returning = active - active_new (active in it and first seen in it).
    const middle = (
      await db.query<{ period: Date; new: number; returning: number }>(
        `SELECT period, new::int AS new, (active - active_new)::int AS returning FROM report_periods
          WHERE grain = $1 AND period >= $2::timestamptz AND period < $3::timestamptz AND (new > 0 OR active > active_new) ORDER BY period`,
        [range.interval, new Date(whole).toISOString(), new Date(wholeEnd).toISOString()],
      )
    ).rows.map((r) => ({ period: iso(r.period), new: r.new, returning: r.returning }));
    const head = from < whole ? [await segment(from, whole, range.interval)] : [];
    const tail = wholeEnd < to ? [await segment(wholeEnd, to, range.interval)] : [];
    return [...head, ...middle, ...tail].filter((r) => r.new > 0 || r.returning > 0);
  }

  async function mergeCount(): Promise<number> {
    const row = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM profile_merges')).rows[0];
    return row?.n ?? 0;
  }

  return { overview, sources, interactions, customers, newVsReturning, mergeCount, fold: rollups.fold };
}

export type ReportsStore = ReturnType<typeof createReportsStore>;
