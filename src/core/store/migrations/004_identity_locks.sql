-- One row per identifier (and per record key) that a resolve has touched: the rows are the locks that
-- serialize resolves sharing an identifier. Row locks, unlike advisory locks, do not fill PostgreSQL's
-- shared lock table (max_locks_per_transaction x max_connections), which thousands of keys per
-- transaction from many workers at once did ("out of shared memory").
CREATE TABLE identity_locks (
  key bigint PRIMARY KEY
);
