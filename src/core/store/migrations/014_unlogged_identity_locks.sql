-- Lock rows hold no data: a row only has to exist for a resolve to lock it, and ensureLockRows
-- creates any that are missing. So they need no write-ahead log: after a crash PostgreSQL empties
-- an unlogged table, and the rows come back as resolves need them. Logged, creating and locking
-- them wrote about 12 WAL records per ingested record (pg_stat_statements during `npm run bench`).
ALTER TABLE identity_locks SET UNLOGGED;
