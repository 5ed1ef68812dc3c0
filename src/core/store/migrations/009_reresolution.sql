-- Re-resolution (npm run resolve -- --all): the run that last placed each record (null: placed by
-- live ingestion), and each run's progress so that a stopped run resumes where it was.
ALTER TABLE records ADD COLUMN resolve_run integer;
CREATE INDEX records_arrival ON records (received_at, source, source_id);
CREATE TABLE resolve_runs (
  id serial PRIMARY KEY,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  cursor jsonb,
  records bigint NOT NULL DEFAULT 0
);
