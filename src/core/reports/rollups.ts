import type { Db, Sql } from '../store/db.js';
import { APPLICATION_NAME } from '../store/postgres.db.js';

/**
 * The rollups of migration 010, kept outside the ingest transaction. Per profile, facts derived
 * from its records (first record, last interaction, records per source, interactions per day,
 * value per currency); the sums of those facts per source, day and period. A fold re-derives the
 * facts of every profile changed since the last fold and moves the sums by the difference, so the
 * sums always equal the facts summed, and the facts equal the records as of the fold.
 *
 * "Changed" is read from profiles.updated_at: the resolver sets it (to its transaction's start)
 * on every profile whose records it writes, merges away or leaves, and so do manual merges and
 * splits. Erasure deletes the profile row, so it removes the profile's facts itself
 * (forgetProfiles, in its transaction).
 */

/**
 * Serializes folds, across processes, with erasures' removals: an advisory lock per schema (one
 * database may hold several hubs' schemas, as the tests' do), in a key space of its own.
 */
const FOLD_LOCK = `pg_advisory_xact_lock(731204010, hashtext(current_schema()))`;
/** Profiles folded per transaction: the lock is held per page, so an erasure waits for one page at most. */
const PAGE = 5000;
const GRAINS = ['day', 'week', 'month'] as const;

// An amount counts only when it is a JSON number (the record schema says so; old rows are not trusted blindly).
export const AMOUNT = `CASE WHEN jsonb_typeof(interaction->'amount') = 'number' THEN (interaction->>'amount')::numeric END`;
/** ISO 4217's code for "no currency". */
export const NO_CURRENCY = 'XXX';
/** The channel an interaction record without one is reported under. */
export const NO_CHANNEL = 'other';

/** Which profiles a statement reads or writes: a list, or all of them (a rebuild). */
type Scope = { filter: (column: string) => string; params: unknown[] };
const EVERYONE: Scope = { filter: () => 'true', params: [] };
const only = (ids: readonly string[]): Scope => ({ filter: (column) => `${column} = ANY($1::uuid[])`, params: [ids] });

const FACT_TABLES = ['report_profiles', 'report_profile_sources', 'report_profile_days', 'report_profile_values'] as const;
const SUM_TABLES = ['report_totals', 'report_sources', 'report_days', 'report_periods'] as const;

const GRAIN_ROWS = `(SELECT unnest(ARRAY[${GRAINS.map((g) => `'${g}'`).join(', ')}]) AS grain) g`;

/**
 * The CTEs that move the sums by `sign` times some fact rows: `profiles` (live, first_at), `days`
 * and `sources` name CTEs that yield rows of report_profiles, report_profile_days and
 * report_profile_sources (the rows a statement deleted, or inserted). Ends with the statement's
 * last part, so it closes a WITH.
 */
function moveSums(sign: 1 | -1, from: { profiles: string; days: string; sources: string }): string {
  return `
     sum_totals AS (
       INSERT INTO report_totals (name, value)
       SELECT CASE WHEN live THEN 'profiles.live' ELSE 'profiles.merged' END, ${sign} * count(*) FROM ${from.profiles} GROUP BY 1
       ON CONFLICT (name) DO UPDATE SET value = report_totals.value + excluded.value),
     -- A record of a source is a duplicate when its profile also holds records of another source.
     sum_sources AS (
       INSERT INTO report_sources (source, records, contacts, profiles, duplicates)
       SELECT source, ${sign} * sum(records), ${sign} * sum(contacts), ${sign} * count(*), ${sign} * COALESCE(sum(records) FILTER (WHERE held > 1), 0)
         FROM (SELECT source, records, contacts, count(*) OVER (PARTITION BY profile_id) AS held FROM ${from.sources}) x
        GROUP BY source
       ON CONFLICT (source) DO UPDATE SET records = report_sources.records + excluded.records, contacts = report_sources.contacts + excluded.contacts,
         profiles = report_sources.profiles + excluded.profiles, duplicates = report_sources.duplicates + excluded.duplicates),
     sum_days AS (
       INSERT INTO report_days (day, channel, currency, interactions, amount, amounts)
       SELECT day, channel, currency, ${sign} * sum(interactions), ${sign} * sum(amount), ${sign} * sum(amounts) FROM ${from.days} GROUP BY 1, 2, 3
       ON CONFLICT (day, channel, currency) DO UPDATE SET interactions = report_days.interactions + excluded.interactions,
         amount = report_days.amount + excluded.amount, amounts = report_days.amounts + excluded.amounts)
     -- Per grain: a profile is new in the period of its first record, and active once in each period
     -- it has an interaction in (active_new: that period is also its first).
     INSERT INTO report_periods (grain, period, new, active, active_new)
     SELECT grain, period, ${sign} * sum(new), ${sign} * sum(active), ${sign} * sum(active_new) FROM (
       SELECT g.grain, date_trunc(g.grain, p.first_at, 'UTC') AS period, 1 AS new, 0 AS active, 0 AS active_new
         FROM ${from.profiles} p CROSS JOIN ${GRAIN_ROWS} WHERE p.first_at IS NOT NULL
       UNION ALL
       SELECT grain, period, 0, 1, is_new FROM (
         SELECT DISTINCT d.profile_id, g.grain, date_trunc(g.grain, d.day, 'UTC') AS period,
                (date_trunc(g.grain, d.day, 'UTC') = date_trunc(g.grain, d.first_at, 'UTC'))::int AS is_new
           FROM ${from.days} d CROSS JOIN ${GRAIN_ROWS}) a) x
      GROUP BY 1, 2
     ON CONFLICT (grain, period) DO UPDATE SET new = report_periods.new + excluded.new, active = report_periods.active + excluded.active,
       active_new = report_periods.active_new + excluded.active_new`;
}

/** Deletes the facts of the scope's profiles and takes them out of the sums, in one statement. */
async function retire(tx: Sql, scope: Scope): Promise<void> {
  const where = scope.filter('profile_id');
  await tx.query(
    `WITH old_profiles AS (DELETE FROM report_profiles WHERE ${where} RETURNING live, first_at),
     old_days AS (DELETE FROM report_profile_days WHERE ${where} RETURNING *),
     old_sources AS (DELETE FROM report_profile_sources WHERE ${where} RETURNING *),
     old_values AS (DELETE FROM report_profile_values WHERE ${where}),
     ${moveSums(-1, { profiles: 'old_profiles', days: 'old_days', sources: 'old_sources' })}`,
    scope.params,
  );
}

/**
 * Derives the facts of the scope's profiles from their records and profile rows and adds them to
 * the sums, in one statement (one snapshot of the records).
 */
async function derive(tx: Sql, scope: Scope): Promise<void> {
  const where = scope.filter;
  await tx.query(
    `WITH r AS MATERIALIZED (
       SELECT profile_id, source, kind, occurred_at, interaction->>'channel' AS channel, interaction->>'currency' AS currency, ${AMOUNT} AS amount
         FROM records WHERE ${where('profile_id')}),
     f AS MATERIALIZED (
       SELECT profile_id, min(occurred_at) AS first_at, max(occurred_at) FILTER (WHERE kind = 'interaction') AS last_at FROM r GROUP BY profile_id),
     new_profiles AS (
       INSERT INTO report_profiles (profile_id, live, first_at, last_interaction_at)
       SELECT pr.id, pr.merged_into IS NULL, f.first_at, f.last_at
         FROM profiles pr LEFT JOIN f ON f.profile_id = pr.id
        WHERE ${where('pr.id')}
        ORDER BY 1
       RETURNING live, first_at),
     new_sources AS (
       INSERT INTO report_profile_sources (profile_id, source, records, contacts)
       SELECT profile_id, source, count(*), count(*) FILTER (WHERE kind = 'contact') FROM r GROUP BY 1, 2 ORDER BY 1, 2
       RETURNING *),
     new_days AS (
       INSERT INTO report_profile_days (profile_id, day, channel, currency, interactions, amount, amounts, first_at)
       SELECT i.profile_id, i.day, i.channel, i.currency, i.n, i.amount, i.amounts, f.first_at
         FROM (SELECT profile_id, date_trunc('day', occurred_at, 'UTC') AS day, COALESCE(channel, '') AS channel, COALESCE(currency, '${NO_CURRENCY}') AS currency,
                      count(*) AS n, COALESCE(sum(amount), 0) AS amount, count(amount) AS amounts
                 FROM r WHERE kind = 'interaction' GROUP BY 1, 2, 3, 4) i
         JOIN f ON f.profile_id = i.profile_id
        ORDER BY 1, 2, 3, 4
       RETURNING *),
     -- Value follows the profile's totalAmount rule: per currency, the most settled stage reported.
     new_values AS (
       INSERT INTO report_profile_values (profile_id, currency, value, stage)
       SELECT profile_id, COALESCE(currency, '${NO_CURRENCY}'),
              COALESCE(sum(amount) FILTER (WHERE channel = 'payment'), sum(amount) FILTER (WHERE channel = 'invoice'), sum(amount) FILTER (WHERE channel = 'order')),
              CASE WHEN bool_or(channel = 'payment') THEN 'payment' WHEN bool_or(channel = 'invoice') THEN 'invoice' ELSE 'order' END
         FROM r WHERE kind = 'interaction' AND channel IN ('order', 'invoice', 'payment') AND amount IS NOT NULL
        GROUP BY 1, 2 ORDER BY 1, 2),
     ${moveSums(1, { profiles: 'new_profiles', days: 'new_days', sources: 'new_sources' })}`,
    scope.params,
  );
}

/** Sums that fell to zero are rows of nothing: a source, day or period no record is in any more. */
async function sweepZeros(tx: Sql): Promise<void> {
  await tx.query('DELETE FROM report_sources WHERE records = 0');
  await tx.query('DELETE FROM report_days WHERE interactions = 0');
  await tx.query('DELETE FROM report_periods WHERE new = 0 AND active = 0');
}

async function lock(tx: Sql): Promise<void> {
  await tx.query(`SELECT ${FOLD_LOCK}`);
}

/**
 * Takes erased profiles out of the rollups, in the erasure's transaction: their facts go with the
 * person, and the sums lose what they added.
 */
export async function forgetProfiles(tx: Sql, profileIds: readonly string[]): Promise<void> {
  if (profileIds.length === 0) return;
  await lock(tx);
  await retire(tx, only(profileIds));
  await sweepZeros(tx);
}

/**
 * Makes the next fold rebuild everything: for writers that set past times (the benchmarks' bulk
 * seeds). One statement, so it also works outside a transaction; it waits for a running fold.
 */
export async function invalidateRollups(sql: Sql): Promise<void> {
  await sql.query(`WITH locked AS (SELECT ${FOLD_LOCK}) UPDATE report_state SET folded_from = NULL FROM locked`);
}

/**
 * What a fold did. `to`: it read the profiles changed up to this time. `until`: every change stamped
 * before it is in the rollups, even one still uncommitted when the fold read (null when a rebuild
 * was asked for meanwhile).
 */
export type FoldResult = { rebuilt: boolean; profiles: number; to: string; until: string | null };

export function createReportRollups(db: Db) {
  /**
   * The fold's reach and from when it is safe to fold next time. `to`: now, less `settleMs`.
   * `bound`: `to`, or the start of the oldest transaction of the hub's (any process) still open on
   * this database, whichever is earlier. A transaction open now stamps what it writes with its
   * start, at or after this time, so the next fold sees it even if it commits after this one reads.
   * Read before anything else the fold reads. Other clients' long transactions (a pg_dump, a report
   * in psql) write no profiles and are not waited for.
   */
  async function reach(settleMs: number): Promise<{ bound: string; to: string }> {
    const row = (
      await db.query<{ bound: string; to: string }>(
        `SELECT LEAST(t.to, (
                  SELECT min(xact_start) FROM pg_stat_activity
                   WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL AND application_name = $1))::text AS bound,
                t.to::text AS to
           FROM (SELECT clock_timestamp() - $2::float8 * interval '1 millisecond' AS to) t`,
        [APPLICATION_NAME, settleMs],
      )
    ).rows[0];
    if (!row) throw new Error('the store did not tell the time');
    return row;
  }

  /** Derives everything from the records, in one transaction. False if another process rebuilt meanwhile. */
  async function rebuild(bound: string): Promise<boolean> {
    return db.transaction(async (tx) => {
      await lock(tx);
      const state = (await tx.query<{ folded_from: Date | null }>('SELECT folded_from FROM report_state')).rows[0];
      if (state && state.folded_from !== null) return false;
      await tx.query(`TRUNCATE ${[...FACT_TABLES, ...SUM_TABLES].join(', ')}`);
      // Millions of rows at once: aggregate in memory, and build each secondary index once at the
      // end (from the catalog, so they come back exactly as migrated) instead of growing it row by row.
      await tx.query(`SET LOCAL work_mem = '256MB'`);
      await tx.query(`SET LOCAL maintenance_work_mem = '256MB'`);
      const indexes = (
        await tx.query<{ name: string; def: string }>(
          `SELECT i.indexname AS name, i.indexdef AS def FROM pg_indexes i
            WHERE i.schemaname = current_schema() AND i.tablename = ANY($1::text[])
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = format('%I.%I', i.schemaname, i.indexname)::regclass)`,
          [FACT_TABLES],
        )
      ).rows;
      for (const index of indexes) await tx.query(`DROP INDEX ${index.name}`);
      await derive(tx, EVERYONE);
      for (const index of indexes) await tx.query(index.def);
      await tx.query('INSERT INTO report_state (id, folded_from, folded_at) VALUES (true, $1::timestamptz, now()) ON CONFLICT (id) DO UPDATE SET folded_from = excluded.folded_from, folded_at = excluded.folded_at', [bound]);
      return true;
    });
  }

  async function foldPage(ids: readonly string[]): Promise<void> {
    await db.transaction(async (tx) => {
      await lock(tx);
      await retire(tx, only(ids));
      await derive(tx, only(ids));
      await sweepZeros(tx);
    });
  }

  /** Folds in every profile changed from the last fold's bound until `settleMs` ago, page by page. */
  async function foldOnce(settleMs: number): Promise<FoldResult> {
    const { bound, to } = await reach(settleMs);
    const state = (await db.query<{ folded_from: string | null }>('SELECT folded_from::text AS folded_from FROM report_state')).rows[0];
    const start = state?.folded_from ?? null;
    // Null: a rebuild, unless another process did it between the read and the lock (then read again).
    if (start === null) {
      if (!(await rebuild(bound))) return foldOnce(settleMs);
      // As autovacuum would after a bulk load: statistics for the planner, a visibility map for index-only scans.
      await db.query(`VACUUM (ANALYZE) ${[...FACT_TABLES, ...SUM_TABLES].join(', ')}`);
      return { rebuilt: true, profiles: 0, to, until: bound };
    }
    let after: [string, string] | null = null;
    let profiles = 0;
    for (;;) {
      // Live and merged-away profiles each by their own index, merged in one order.
      const cursor = after ? `AND (updated_at, id) > ($3::timestamptz, $4::uuid)` : '';
      const rows = (
        await db.query<{ id: string; at: string }>(
          `SELECT id, updated_at::text AS at FROM (
             SELECT id, updated_at FROM profiles WHERE merged_into IS NULL AND updated_at >= $1::timestamptz AND updated_at <= $2::timestamptz ${cursor}
             UNION ALL
             SELECT id, updated_at FROM profiles WHERE merged_into IS NOT NULL AND updated_at >= $1::timestamptz AND updated_at <= $2::timestamptz ${cursor}) changed
            ORDER BY updated_at, id LIMIT ${PAGE}`,
          after ? [start, to, ...after] : [start, to],
        )
      ).rows;
      if (rows.length === 0) break;
      await foldPage(rows.map((r) => r.id));
      profiles += rows.length;
      const last = rows[rows.length - 1] as { id: string; at: string };
      after = [last.at, last.id];
      if (rows.length < PAGE) break;
    }
    const until = await db.transaction(async (tx) => {
      await lock(tx);
      // A rebuild asked for meanwhile (folded_from set to null) stays asked for.
      const row = (
        await tx.query<{ until: string }>(
          'UPDATE report_state SET folded_from = GREATEST(folded_from, $1::timestamptz), folded_at = now() WHERE folded_from IS NOT NULL RETURNING folded_from::text AS until',
          [bound],
        )
      ).rows[0];
      return row?.until ?? null;
    });
    return { rebuilt: false, profiles, to, until };
  }

  let running: Promise<FoldResult> | null = null;
  let queued: Promise<FoldResult> | null = null;

  /**
   * Brings the rollups up to now. Calls that arrive while a fold runs share one fold started after
   * it ends: every caller gets a fold that began after it asked. With `settleMs` (the scheduled
   * folds), profiles changed in the last settleMs are left for a later fold: one written to again
   * and again, as in a bulk import, is folded once when it settles instead of at every fold it
   * spans (in the benchmark's ingest, 1.5 folds per profile at one fold every 10 s); such a call
   * is content with a fold already running.
   */
  function fold(options: { settleMs?: number } = {}): Promise<FoldResult> {
    if (!running) {
      running = foldOnce(options.settleMs ?? 0).finally(() => {
        running = null;
      });
      return running;
    }
    if (options.settleMs) return running;
    queued ??= running
      .catch(() => undefined)
      .then(() => {
        queued = null;
        return fold();
      });
    return queued;
  }

  return { fold };
}

export type ReportRollups = ReturnType<typeof createReportRollups>;
