// The fast seed of `--growth --growth-seed sql`: for people 0..count-1 (people.ts), one clean
// contact each, the rows the resolver would write, in bulk statements instead of through the
// resolver; two to three times faster than the default seed through the store, but only as right as
// deriveFromRecords: every table the resolver derives from records must be filled there too (a
// matcher's blocking keys, say), or the large store looks empty to the matcher and the ratio lies.
import { randomUUID } from 'node:crypto';
import type { HubConfig } from '../../src/core/config/config.schema.js';
import { recordIdentifiers } from '../../src/core/identity/normalize.js';
import { resolveOptions } from '../../src/core/identity/resolve-options.js';
import { matchableFeatures } from '../../src/core/identity/match/features.js';
import { blockingKeys } from '../../src/core/identity/match/blocking.js';
import { projectTraits, searchText } from '../../src/core/identity/survivorship.js';
import type { HubRecord } from '../../src/core/record.schema.js';
import type { Db, Sql } from '../../src/core/store/db.js';
import { invalidateRollups } from '../../src/core/reports/rollups.js';
import { cleanRecord } from './people.js';

const CHUNK = 5000;

/**
 * The migrations whose tables this seed fills correctly. A later one (e.g. a matcher's blocking
 * keys) makes it refuse to run until deriveFromRecords fills that table too and the file is listed.
 */
const FILLED_MIGRATIONS = new Set([
  '001_profiles_and_records.sql',
  '002_connectors.sql',
  '003_merge_lookups.sql',
  '004_identity_locks.sql',
  '005_events.sql',
  // The matcher's features and blocking keys are derived below; its other tables start empty.
  '006_identity_matching.sql',
  '006_reports.sql',
  '007_subscriptions.sql',
  '008_audit_erasure.sql',
  '009_reresolution.sql',
  // Report rollups: derived by the first fold after the seed, which invalidateRollups makes a rebuild.
  '010_report_rollups.sql',
  // The inactive alert rule's cursors start empty.
  '011_alert_cursors.sql',
  // Drops indexes and a constraint: nothing to fill.
  '012_lean_ingest.sql',
  // Drops constraints: nothing to fill.
  '013_unchecked_record_links.sql',
  // Lock rows are created as resolves need them.
  '014_unlogged_identity_locks.sql',
  // Changes the key columns' collation: nothing to fill.
  '015_byte_order_keys.sql',
]);

type Seeded = { record: HubRecord; profileId: string; at: string };

/**
 * What the resolver keeps beside the records themselves, computed with the hub's own functions:
 * each profile's trait projection and search text, each record's match features and blocking keys.
 * Extend this when the resolver keeps more.
 */
async function deriveFromRecords(tx: Sql, seeded: Seeded[], config: HubConfig): Promise<void> {
  const profiles = seeded.map(({ record, profileId, at }) => {
    const projection = projectTraits([{ source: record.source, sourceId: record.sourceId, traits: record.traits ?? {}, occurredAt: at, receivedAt: at }], config.identity.traitPriority);
    return { id: profileId, traits: projection.traits, trait_sources: projection.traitSources, search_text: searchText(projection.traits) };
  });
  await tx.query(
    `UPDATE profiles SET traits = u.traits, trait_sources = u.trait_sources, search_text = u.search_text
       FROM jsonb_to_recordset($1::jsonb) AS u(id uuid, traits jsonb, trait_sources jsonb, search_text text) WHERE profiles.id = u.id`,
    [JSON.stringify(profiles)],
  );
  const identity = resolveOptions(config.identity);
  const matched = seeded.map(({ record }) => ({
    record,
    match: matchableFeatures(record.traits ?? {}, recordIdentifiers(record, identity.normalize), identity.matching.rules.fields),
  }));
  await tx.query(
    `UPDATE records SET match = u.match FROM jsonb_to_recordset($1::jsonb) AS u(source text, source_id text, match jsonb)
      WHERE records.source = u.source AND records.source_id = u.source_id`,
    [JSON.stringify(matched.map(({ record, match }) => ({ source: record.source, source_id: record.sourceId, match })))],
  );
  const keys = matched.flatMap(({ record, match }) => (match ? blockingKeys(match).map((key) => ({ key, source: record.source, source_id: record.sourceId })) : []));
  await tx.query(
    `INSERT INTO match_keys (key, source, source_id) SELECT key, source, source_id FROM jsonb_to_recordset($1::jsonb) AS x(key text, source text, source_id text) ON CONFLICT DO NOTHING`,
    [JSON.stringify(keys)],
  );
}

async function seedChunk(tx: Sql, seeded: Seeded[], config: HubConfig): Promise<void> {
  // The rows are consistent by construction: skip the per-row foreign-key triggers of a bulk load.
  await tx.query('SET LOCAL session_replication_role = replica');
  await tx.query('SET LOCAL synchronous_commit = off');
  await tx.query(
    `INSERT INTO profiles (id, created_at, updated_at) SELECT id, at, at FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, at timestamptz)`,
    [JSON.stringify(seeded.map((s) => ({ id: s.profileId, at: s.at })))],
  );
  await tx.query(
    `INSERT INTO records (source, source_id, kind, profile_id, occurred_at, received_at, processed_at, identifiers, traits)
     SELECT source, source_id, 'contact', profile_id, at, at, at, identifiers, traits
       FROM jsonb_to_recordset($1::jsonb) AS x(source text, source_id text, profile_id uuid, at timestamptz, identifiers jsonb, traits jsonb)`,
    [JSON.stringify(seeded.map(({ record, profileId, at }) => ({ source: record.source, source_id: record.sourceId, profile_id: profileId, at, identifiers: record.identifiers ?? {}, traits: record.traits ?? {} })))],
  );
  const identifiers = seeded.flatMap(({ record }) =>
    recordIdentifiers(record, resolveOptions(config.identity).normalize).map((i) => ({ type: i.type, value: i.value, source: record.source, source_id: record.sourceId })),
  );
  await tx.query(
    `INSERT INTO record_identifiers (type, value, source, source_id)
     SELECT type, value, source, source_id FROM jsonb_to_recordset($1::jsonb) AS x(type text, value text, source text, source_id text) ORDER BY 1, 2, 3, 4`,
    [JSON.stringify(identifiers)],
  );
  await deriveFromRecords(tx, seeded, config);
}

export async function seedPeopleSql(db: Db, config: HubConfig, source: string, count: number, onProgress: (done: number) => void): Promise<void> {
  const applied = (await db.query<{ version: string }>('SELECT version FROM schema_migrations ORDER BY version')).rows.map((r) => r.version);
  const unknown = applied.filter((v) => !FILLED_MIGRATIONS.has(v));
  if (unknown.length > 0) {
    throw new Error(`--growth-seed sql does not fill the tables of ${unknown.join(', ')}: extend deriveFromRecords in bench/match/seed-sql.ts (and FILLED_MIGRATIONS), or use --growth-seed store`);
  }
  const at = new Date().toISOString();
  for (let from = 0; from < count; from += CHUNK) {
    const seeded: Seeded[] = [];
    for (let k = from; k < Math.min(count, from + CHUNK); k += 1) seeded.push({ record: cleanRecord(source, k), profileId: randomUUID(), at });
    await db.transaction((tx) => seedChunk(tx, seeded, config));
    onProgress(from + seeded.length);
  }
  // The resolver stops filing under a key once more than candidatesPerKey records are filed under it
  // (profile.store.ts fileBlockingKeys): keep what it would have kept.
  await db.query(
    `DELETE FROM match_keys m USING (
       SELECT key, source, source_id FROM (
         SELECT key, source, source_id, row_number() OVER (PARTITION BY key ORDER BY source, source_id) AS n FROM match_keys) f
        WHERE n > $1) x
      WHERE m.key = x.key AND m.source = x.source AND m.source_id = x.source_id`,
    [resolveOptions(config.identity).matching.candidatesPerKey + 1],
  );
  // Seeded rows carry the time the seed began, which a fold of the report rollups may already be past.
  await invalidateRollups(db);
}

/**
 * VACUUM (ANALYZE) of the store's own tables, as autovacuum would have done on a store that grew to
 * its size over time: only its schema (a bare VACUUM would go through every schema of the database).
 */
export async function vacuumSchema(db: Db): Promise<void> {
  if (db.kind !== 'postgres') return;
  const tables = (await db.query<{ name: string }>('SELECT quote_ident(tablename) AS name FROM pg_tables WHERE schemaname = current_schema()')).rows;
  for (const t of tables) await db.query(`VACUUM (ANALYZE) ${t.name}`);
}
