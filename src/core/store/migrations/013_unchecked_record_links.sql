-- As match_keys in 012: a record's identifiers are written in the transaction that writes the
-- record and deleted with it (a new version, an erasure) by the store itself, and a record points
-- to a profile the same transaction locked or created. The per-row checks (a lookup and a lock of
-- the record for each identifier, of the profile for each record written or moved) took 15 µs of
-- PostgreSQL's time per ingested record (pg_stat_statements during `npm run bench`) and guarded
-- nothing the store does not already do: erasure deletes a person's identifiers, records and
-- profiles itself, in that order (erasure.store.ts).
ALTER TABLE record_identifiers DROP CONSTRAINT IF EXISTS record_identifiers_source_source_id_fkey;
ALTER TABLE records DROP CONSTRAINT IF EXISTS records_profile_id_fkey;
