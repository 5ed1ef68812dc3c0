// Seeds a store with people 0..count-1 directly in SQL (INSERT ... SELECT generate_series), producing
// the rows the pipeline would have written for them: per person one profile and 2.5 records (an ERP
// contact; a web-site contact for every other person; a call or an order) with their normalized
// identifiers. Same names, emails and phones as data.ts, so generated records can link to them.
import type pg from 'pg';
import { CITIES, DOMAINS, FIRST_NAMES, LAST_NAMES, PHONE_MULTIPLIER, PHONE_OFFSET } from './data.js';
import { invalidateRollups } from '../src/core/reports/rollups.js';

const COMPANIES_SQL = ['ООО «Ромашка»', 'АО «Вектор»', 'ИП Сидоров', 'ООО «Северный ветер»', 'ПАО «Техностиль»'];

function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

function array(values: readonly string[]): string {
  return `ARRAY[${values.map(literal).join(',')}]::text[]`;
}

/** Rows per INSERT statement, so that progress shows and no statement holds too much. */
const CHUNK = 250_000;

export async function seedPeople(client: pg.ClientBase, count: number, onProgress?: (done: number) => void): Promise<void> {
  // The rows are consistent by construction: skip the per-row foreign-key triggers of a bulk load.
  await client.query('SET session_replication_role = replica');
  await client.query(`SET synchronous_commit = off`);
  const people = `
    SELECT k,
           (${array(FIRST_NAMES.map((n) => n[0]))})[1 + k % ${FIRST_NAMES.length}] AS first,
           (${array(LAST_NAMES.map((n) => n[0]))})[1 + (k / ${FIRST_NAMES.length}) % ${LAST_NAMES.length}] AS last,
           (${array(FIRST_NAMES.map((n) => n[1]))})[1 + k % ${FIRST_NAMES.length}] || '.' ||
           (${array(LAST_NAMES.map((n) => n[1]))})[1 + (k / ${FIRST_NAMES.length}) % ${LAST_NAMES.length}] || '.' || k || '@' ||
           (${array(DOMAINS)})[1 + k % ${DOMAINS.length}] AS email,
           '+79' || lpad(((k::bigint * ${PHONE_MULTIPLIER} + ${PHONE_OFFSET}) % 1000000000)::text, 9, '0') AS phone,
           (${array(CITIES)})[1 + k % ${CITIES.length}] AS city,
           (${array(COMPANIES_SQL)})[1 + k % ${COMPANIES_SQL.length}] AS company,
           md5('bench-p-' || k)::uuid AS id,
           'S' || k AS sid,
           timestamptz '2024-01-01 00:00:00+00' + (k % 365) * interval '1 day' + (k % 86400) * interval '1 second' AS at
      FROM generate_series($1::int, $2::int - 1) AS k`;
  // Secondary indexes are rebuilt at the end (much faster than growing them row by row); their
  // definitions are read from the catalog, so the schema ends exactly as the migrations made it.
  const secondary = (
    await client.query<{ name: string; def: string }>(
      `SELECT indexname AS name, indexdef AS def FROM pg_indexes
        WHERE schemaname = current_schema() AND tablename IN ('profiles', 'records', 'record_identifiers')
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = format('%I.%I', schemaname, indexname)::regclass)`,
    )
  ).rows;
  for (const index of secondary) await client.query(`DROP INDEX ${index.name}`);
  for (let from = 0; from < count; from += CHUNK) {
    const to = Math.min(count, from + CHUNK);
    await client.query('BEGIN');
    await client.query(`CREATE TEMP TABLE bench_people ON COMMIT DROP AS ${people}`, [from, to]);
    await client.query(`
      INSERT INTO profiles (id, traits, trait_sources, search_text, created_at, updated_at)
      SELECT id,
             jsonb_build_object('city', city, 'company', company, 'firstName', first, 'lastName', last),
             jsonb_build_object('city', src, 'company', src, 'firstName', src, 'lastName', src),
             lower(first || ' ' || last || ' ' || company), at, at + interval '1 hour'
        FROM (SELECT *, jsonb_build_object('source', 'erp', 'sourceId', sid, 'observedAt', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) AS src
                FROM bench_people) p
       ORDER BY id`);
    await client.query(`
      INSERT INTO records (source, source_id, kind, profile_id, occurred_at, received_at, processed_at, identifiers, traits, interaction)
      SELECT * FROM (
        SELECT 'erp', sid, 'contact', id, at, at + interval '1 hour', at + interval '1 hour 1 second',
               jsonb_build_object('emails', jsonb_build_array(email), 'phones', jsonb_build_array(phone)),
               jsonb_build_object('firstName', first, 'lastName', last, 'city', city, 'company', company), NULL::jsonb
          FROM bench_people
        UNION ALL
        SELECT 'site', sid, 'contact', id, at - interval '30 days', at + interval '1 hour', at + interval '1 hour 1 second',
               jsonb_build_object('emails', jsonb_build_array(upper(email))),
               jsonb_build_object('firstName', first, 'lastName', last), NULL
          FROM bench_people WHERE k % 2 = 0
        UNION ALL
        SELECT 'telephony', sid, 'interaction', id, at + interval '2 days', at + interval '2 days 1 minute', at + interval '2 days 1 minute',
               jsonb_build_object('phones', jsonb_build_array(phone)), '{}'::jsonb,
               jsonb_build_object('channel', 'call', 'direction', 'inbound', 'durationSec', k % 600, 'status', 'answered')
          FROM bench_people WHERE k % 2 = 0
        UNION ALL
        SELECT 'shop', sid, 'interaction', id, at + interval '3 days', at + interval '3 days 1 minute', at + interval '3 days 1 minute',
               jsonb_build_object('emails', jsonb_build_array(email)), '{}'::jsonb,
               jsonb_build_object('channel', 'order', 'amount', (k % 50000) + 0.5, 'currency', 'RUB', 'status', 'paid')
          FROM bench_people WHERE k % 2 = 1
      ) r ORDER BY 1, 2`);
    await client.query(`
      INSERT INTO record_identifiers (type, value, source, source_id)
      SELECT * FROM (
        SELECT 'email', email, 'erp', sid FROM bench_people
        UNION ALL SELECT 'phone', phone, 'erp', sid FROM bench_people
        UNION ALL SELECT 'externalId', 'erp:' || sid, 'erp', sid FROM bench_people
        UNION ALL SELECT 'email', email, 'site', sid FROM bench_people WHERE k % 2 = 0
        UNION ALL SELECT 'externalId', 'site:' || sid, 'site', sid FROM bench_people WHERE k % 2 = 0
        UNION ALL SELECT 'phone', phone, 'telephony', sid FROM bench_people WHERE k % 2 = 0
        UNION ALL SELECT 'email', email, 'shop', sid FROM bench_people WHERE k % 2 = 1
      ) i ORDER BY 1, 2, 3, 4`);
    await client.query('COMMIT');
    onProgress?.(to);
  }
  await client.query(`SET maintenance_work_mem = '256MB'`);
  for (const index of secondary) await client.query(index.def);
  await client.query('SET session_replication_role = DEFAULT');
  // As autovacuum would have done on a store that grew to this size over time.
  await client.query('VACUUM (ANALYZE) profiles, records, record_identifiers');
  // The rows carry past times, which a fold of the report rollups does not look back to: rebuild them.
  await invalidateRollups({ query: async (text, params) => ({ rows: (await client.query(text, params)).rows }) });
}
