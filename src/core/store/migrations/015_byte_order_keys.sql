-- The keys the resolver writes and looks up by (record keys, identifiers, blocking keys) compare
-- byte by byte: they are matched for equality, never sorted for people to read, and under the
-- database's own collation every comparison in their indexes went through the locale's rules
-- (strcoll). Rebuilds these tables' indexes once: minutes at millions of records.
ALTER TABLE records ALTER COLUMN source TYPE text COLLATE "C", ALTER COLUMN source_id TYPE text COLLATE "C";
ALTER TABLE record_identifiers ALTER COLUMN type TYPE text COLLATE "C", ALTER COLUMN value TYPE text COLLATE "C",
  ALTER COLUMN source TYPE text COLLATE "C", ALTER COLUMN source_id TYPE text COLLATE "C";
ALTER TABLE match_keys ALTER COLUMN key TYPE text COLLATE "C", ALTER COLUMN source TYPE text COLLATE "C", ALTER COLUMN source_id TYPE text COLLATE "C";
-- They reference records' keys.
ALTER TABLE merge_constraints ALTER COLUMN a_source TYPE text COLLATE "C", ALTER COLUMN a_source_id TYPE text COLLATE "C",
  ALTER COLUMN b_source TYPE text COLLATE "C", ALTER COLUMN b_source_id TYPE text COLLATE "C";
