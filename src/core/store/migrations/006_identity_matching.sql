-- What the matcher compares, kept with the record so that candidates are scored without
-- recomputing transliterations: folded names, dates, codes (see src/core/identity/match/features.ts).
ALTER TABLE records ADD COLUMN match jsonb;
-- Why the record is in its profile: the identifier it shares or the match score, as the resolver
-- decided when it arrived (null: it started the profile, or was moved by a person).
ALTER TABLE records ADD COLUMN link_reason text;
ALTER TABLE records ADD COLUMN link_score double precision;

-- Blocking keys: each record filed under a few keys (sound-alike surname + birth year, postcode +
-- name, ...); candidates for a new record are the records filed under its keys, found by index.
CREATE TABLE match_keys (
  key text NOT NULL,
  source text NOT NULL,
  source_id text NOT NULL,
  PRIMARY KEY (key, source, source_id),
  FOREIGN KEY (source, source_id) REFERENCES records (source, source_id) ON DELETE CASCADE
);
CREATE INDEX match_keys_record ON match_keys (source, source_id);

-- Pairs of profiles that may be one person, for a human to decide.
CREATE TABLE duplicate_pairs (
  id bigserial PRIMARY KEY,
  profile_a uuid NOT NULL REFERENCES profiles (id),
  profile_b uuid NOT NULL REFERENCES profiles (id),
  score double precision NOT NULL,
  reasons jsonb NOT NULL DEFAULT '[]'::jsonb,
  status text NOT NULL DEFAULT 'open',
  decided_by text,
  decided_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (profile_a < profile_b),
  UNIQUE (profile_a, profile_b)
);
CREATE INDEX duplicate_pairs_status ON duplicate_pairs (status, id);
CREATE INDEX duplicate_pairs_b ON duplicate_pairs (profile_b);

-- Records that must not end in one profile automatically: one record of each side of a split or of
-- a dismissed pair. The records of a side stay together, so one of each stands for all.
CREATE TABLE merge_constraints (
  id bigserial PRIMARY KEY,
  a_source text NOT NULL,
  a_source_id text NOT NULL,
  b_source text NOT NULL,
  b_source_id text NOT NULL,
  reason text NOT NULL,
  actor text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (a_source, a_source_id) REFERENCES records (source, source_id) ON DELETE CASCADE,
  FOREIGN KEY (b_source, b_source_id) REFERENCES records (source, source_id) ON DELETE CASCADE
);
CREATE INDEX merge_constraints_a ON merge_constraints (a_source, a_source_id);
CREATE INDEX merge_constraints_b ON merge_constraints (b_source, b_source_id);

-- Emails and phones found on too many profiles (a switchboard, a shared inbox): they stopped linking.
CREATE TABLE shared_identifiers (
  type text NOT NULL,
  value text NOT NULL,
  profiles integer NOT NULL,
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (type, value)
);

-- Merges and splits show who did them, by which rule and with what score.
ALTER TABLE profile_merges ADD COLUMN score double precision;
CREATE INDEX profile_merges_merged ON profile_merges (merged_id);
CREATE TABLE profile_splits (
  id bigserial PRIMARY KEY,
  profile_id uuid NOT NULL REFERENCES profiles (id),
  new_profile_id uuid NOT NULL REFERENCES profiles (id),
  records jsonb NOT NULL,
  actor text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX profile_splits_profile ON profile_splits (profile_id);
CREATE INDEX profile_splits_new ON profile_splits (new_profile_id);
