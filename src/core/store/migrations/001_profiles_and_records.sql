-- Records are the truth; a profile is the cluster of records that point to it plus a projection
-- of their traits. A merged-away profile keeps its row so that its id can redirect.
CREATE TABLE profiles (
  id uuid PRIMARY KEY,
  merged_into uuid REFERENCES profiles (id),
  traits jsonb NOT NULL DEFAULT '{}'::jsonb,
  trait_sources jsonb NOT NULL DEFAULT '{}'::jsonb,
  search_text text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX profiles_live_updated ON profiles (updated_at, id) WHERE merged_into IS NULL;

CREATE TABLE records (
  source text NOT NULL,
  source_id text NOT NULL,
  kind text NOT NULL,
  profile_id uuid NOT NULL REFERENCES profiles (id),
  occurred_at timestamptz NOT NULL,
  received_at timestamptz NOT NULL,
  processed_at timestamptz NOT NULL,
  -- identifiers as they came, kept for re-resolution; the normalized ones are in record_identifiers
  identifiers jsonb NOT NULL DEFAULT '{}'::jsonb,
  traits jsonb NOT NULL DEFAULT '{}'::jsonb,
  interaction jsonb,
  PRIMARY KEY (source, source_id)
);
CREATE INDEX records_profile_time ON records (profile_id, occurred_at DESC);

CREATE TABLE record_identifiers (
  type text NOT NULL,
  value text NOT NULL,
  source text NOT NULL,
  source_id text NOT NULL,
  PRIMARY KEY (type, value, source, source_id),
  FOREIGN KEY (source, source_id) REFERENCES records (source, source_id) ON DELETE CASCADE
);
CREATE INDEX record_identifiers_record ON record_identifiers (source, source_id);

-- Every merge, with what caused it, so a profile can show its history.
CREATE TABLE profile_merges (
  id bigserial PRIMARY KEY,
  survivor_id uuid NOT NULL REFERENCES profiles (id),
  merged_id uuid NOT NULL REFERENCES profiles (id),
  reason text NOT NULL,
  actor text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX profile_merges_survivor ON profile_merges (survivor_id);
