-- What every stored record paid for and nothing needs any more (figures in the README, Performance).

-- The reports read their rollups (010) since, not these; each was one more index entry per record,
-- at a random page of an index led by profile id.
DROP INDEX IF EXISTS records_profile_source;
DROP INDEX IF EXISTS records_profile_interactions;
DROP INDEX IF EXISTS records_sales;

-- A record's blocking keys are written in the transaction that writes the record, and deleted with it
-- (a new version, an erasure) by the store itself: the per-row foreign-key check (a lookup and a lock
-- of the record, ten times per record) guarded nothing the store does not already do.
ALTER TABLE match_keys DROP CONSTRAINT IF EXISTS match_keys_source_source_id_fkey;

-- Candidates are found by index-only scans of match_keys, which read the table too for rows on pages
-- not yet marked all-visible: by default autovacuum marks them only once a fifth of the table is new
-- (a million rows at 500,000 people). At 500,000 people a vacuumed match_keys halved the probe.
ALTER TABLE match_keys SET (autovacuum_vacuum_insert_scale_factor = 0.01);
