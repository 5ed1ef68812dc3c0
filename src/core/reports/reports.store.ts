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

type Param = (value: unknown) => string;

/** A column customers are ranked by: its SQL cast, and the check of its value in a cursor. */
type RankColumn = { name: string; cast: string; valid(text: string): boolean };

type RankedRow = { profile_id: string; traits: Record<string, unknown> };

/** What tells one customer ranking from another; `rank` does the rest. */
type Ranking<Row extends RankedRow> = {
  table: string;
  columns: string;
  /** Which rows of the table are ranked. */
  where(q: CustomerQuery, param: Param): string;
  key: RankColumn;
  ties: readonly RankColumn[];
  /** The direction of the key that answers ?order=. */
  direction(order: CustomerQuery['order']): 'ASC' | 'DESC';
  /** What the page selects of each ranked row (`r`); its profile's traits come with it. */
  select(q: CustomerQuery, param: Param): string;
  /** The cursor after `row`: its key, then its ties. */
  cursor(row: Row): string[];
  customer(row: Row): Omit<Customer, 'profileId' | 'name' | 'company'>;
};

const PROFILE_ID: RankColumn = { name: 'profile_id', cast: '::uuid', valid: (t) => UUID.test(t) };

const BY_VALUE: Ranking<RankedRow & { currency: string; value: string; stage: 'payment' | 'invoice' | 'order' }> = {
  table: 'report_profile_values',
  columns: 'profile_id, currency, value, stage',
  where: (q, param) => (q.currency ? `currency = ${param(q.currency)}` : 'true'),
  key: { name: 'value', cast: '::numeric', valid: (t) => NUMERIC.test(t) },
  ties: [PROFILE_ID, { name: 'currency', cast: '', valid: (t) => /^[A-Z]{3}$/.test(t) }],
  direction: (order) => (order === 'desc' ? 'DESC' : 'ASC'),
  select: () => 'r.profile_id, r.currency, r.value::text AS value, r.stage',
  cursor: (r) => [r.value, r.profile_id, r.currency],
  customer: (r) => ({ currency: r.currency, value: Number(r.value), stage: r.stage }),
};

/** `asc`: the most recently active first; `desc`: the longest silent first. Profiles without interactions are not ranked. */
const BY_RECENCY: Ranking<RankedRow & { last_at: Date; days: number }> = {
  table: 'report_profiles',
  columns: 'profile_id, last_interaction_at',
  where: () => 'last_interaction_at IS NOT NULL',
  key: { name: 'last_interaction_at', cast: '::timestamptz', valid: (t) => !Number.isNaN(Date.parse(t)) },
  ties: [PROFILE_ID],
  // Fewer days since = a later last interaction.
  direction: (order) => (order === 'asc' ? 'DESC' : 'ASC'),
  select: (q, param) =>
    `r.profile_id, r.last_interaction_at AS last_at, GREATEST(0, floor(extract(epoch FROM (${param(q.asOf)}::timestamptz - r.last_interaction_at)) / 86400))::int AS days`,
  cursor: (r) => [iso(r.last_at), r.profile_id],
  customer: (r) => ({ lastInteractionAt: iso(r.last_at), daysSinceLastInteraction: r.days }),
};

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
    return q.sort === 'value' ? rank(q, BY_VALUE) : rank(q, BY_RECENCY);
  }

  /**
   * One page of customers in `ranking`'s order: by its key, then its ties ascending, as the indexes
   * of migration 010 hold them. After a cursor: the rest of its key, then the keys beyond it, each a
   * range of one index, never a scan from the top.
   */
  async function rank<Row extends RankedRow>(q: CustomerQuery, ranking: Ranking<Row>) {
    const params: unknown[] = [];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    const { key, ties } = ranking;
    const direction = ranking.direction(q.order);
    const orderBy = (alias: string) => [`${alias}${key.name} ${direction}`, ...ties.map((t) => alias + t.name)].join(', ');
    const rows = `SELECT ${ranking.columns} FROM ${ranking.table} WHERE ${ranking.where(q, param)}`;
    const limit = param(q.limit + 1);
    let page = `${rows} ORDER BY ${orderBy('')} LIMIT ${limit}`;
    if (q.cursor) {
      const [at = '', ...after] = decodeCursor(q.cursor, (p) => p.length === 1 + ties.length && key.valid(p[0] ?? '') && ties.every((t, i) => t.valid(p[i + 1] ?? '')));
      const a = param(at);
      page = `(${rows} AND ${key.name} = ${a}${key.cast} AND (${ties.map((t) => t.name).join(', ')}) > (${after.map((v, i) => `${param(v)}${ties[i]?.cast ?? ''}`).join(', ')})
                ORDER BY ${orderBy('')} LIMIT ${limit})
              UNION ALL
              (${rows} AND ${key.name} ${direction === 'DESC' ? '<' : '>'} ${a}${key.cast}
                ORDER BY ${orderBy('')} LIMIT ${limit})`;
    }
    const found = (
      await db.query<Row>(
        `SELECT ${ranking.select(q, param)}, p.traits
           FROM (SELECT * FROM (${page}) r ORDER BY ${orderBy('')} LIMIT ${limit}) r
           JOIN profiles p ON p.id = r.profile_id
          ORDER BY ${orderBy('r.')}`,
        params,
      )
    ).rows;
    const pageRows = found.slice(0, q.limit);
    const last = pageRows[pageRows.length - 1];
    return {
      data: pageRows.map((r): Customer => ({ profileId: r.profile_id, name: displayName(r.traits), company: text(r.traits['company']), ...ranking.customer(r) })),
      nextCursor: found.length > q.limit && last ? encodeCursor(ranking.cursor(last)) : null,
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
