-- Per connector: its checkpoint (IMAP cursor, ERP updated-since, ...) and what it has done:
-- received = source events accepted, processed = records queued from them, failed = events that failed.
-- The checkpoint advances only after the records it covers are durably queued.
CREATE TABLE connector_state (
  connector_id text PRIMARY KEY,
  checkpoint jsonb,
  last_run_at timestamptz,
  last_error text,
  last_error_at timestamptz,
  received bigint NOT NULL DEFAULT 0,
  processed bigint NOT NULL DEFAULT 0,
  failed bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);
