-- Who did what write or admin action, and every refused key. Never the key itself: a refused key
-- is named by a short fingerprint (the start of its SHA-256, comparable with the configured hashes).
CREATE TABLE audit_log (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  actor text NOT NULL,
  key_fingerprint text,
  action text NOT NULL,
  method text NOT NULL,
  route text NOT NULL,
  params jsonb NOT NULL DEFAULT '{}'::jsonb,
  status integer NOT NULL,
  summary text NOT NULL DEFAULT '',
  detail jsonb,
  ip text,
  -- the profiles the action was about, for a person's export
  profile_ids text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_action ON audit_log (action, id);

-- Secrets made by the installation itself on first use (the erasure salt).
CREATE TABLE hub_secrets (
  name text PRIMARY KEY,
  value text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- What is left of an erased person: salted hashes of their identifiers, so that a record that
-- brings one back is held instead of silently rebuilding them.
CREATE TABLE erased_identifiers (
  hash text PRIMARY KEY,
  type text NOT NULL,
  erased_at timestamptz NOT NULL DEFAULT now()
);

-- Records that carried an erased identifier, waiting for a person to release or discard them.
CREATE TABLE held_records (
  id uuid PRIMARY KEY,
  source text NOT NULL,
  source_id text NOT NULL,
  received_at timestamptz NOT NULL,
  held_at timestamptz NOT NULL DEFAULT now(),
  matched text[] NOT NULL,
  record jsonb NOT NULL,
  UNIQUE (source, source_id, received_at)
);
CREATE INDEX held_records_time ON held_records (held_at, id);

-- Counters of what the erasure guard did without keeping the record (onReturn: drop).
CREATE TABLE erasure_counters (
  name text PRIMARY KEY,
  value bigint NOT NULL DEFAULT 0
);
