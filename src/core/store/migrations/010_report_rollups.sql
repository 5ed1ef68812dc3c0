-- Rollups behind /v1/reports (src/core/reports/rollups.ts). Records stay the truth: per profile,
-- facts derived from its records; per source, day and period, the sums of those facts. A fold,
-- outside the ingest transaction, re-derives the facts of the profiles changed since the last fold
-- (found by profiles.updated_at) and moves the sums by the difference.

-- The merged profiles changed since a time, by index (profiles_live_updated covers the live ones).
-- Live rows never enter it, so ingest's profile updates do not write it.
CREATE INDEX IF NOT EXISTS profiles_merged_updated ON profiles (updated_at, id) WHERE merged_into IS NOT NULL;

-- One row: profiles changed at or after folded_from are folded again; null: rebuild everything.
CREATE TABLE IF NOT EXISTS report_state (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  folded_from timestamptz,
  folded_at timestamptz
);
INSERT INTO report_state (id) VALUES (true) ON CONFLICT (id) DO NOTHING;

-- Per profile (live or merged away): its first record and last interaction.
CREATE TABLE IF NOT EXISTS report_profiles (
  profile_id uuid PRIMARY KEY,
  live boolean NOT NULL,
  first_at timestamptz,
  last_interaction_at timestamptz
);
CREATE INDEX IF NOT EXISTS report_profiles_first ON report_profiles (first_at) WHERE first_at IS NOT NULL;
-- Customers by recency, both ways, each with the profile id ascending as the tie-break.
CREATE INDEX IF NOT EXISTS report_profiles_recent ON report_profiles (last_interaction_at DESC, profile_id) WHERE last_interaction_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS report_profiles_silent ON report_profiles (last_interaction_at, profile_id) WHERE last_interaction_at IS NOT NULL;

-- Per profile and source: its records and contacts there.
CREATE TABLE IF NOT EXISTS report_profile_sources (
  profile_id uuid NOT NULL,
  source text NOT NULL,
  records integer NOT NULL,
  contacts integer NOT NULL,
  PRIMARY KEY (profile_id, source)
);

-- Per profile, UTC day, channel ('' when the record named none) and currency ('XXX' when none):
-- its interactions, the sum of their numeric amounts and how many had one; and the profile's
-- first record again, so that who returned in a range of days is read from one index.
CREATE TABLE IF NOT EXISTS report_profile_days (
  profile_id uuid NOT NULL,
  day timestamptz NOT NULL,
  channel text NOT NULL,
  currency text NOT NULL,
  interactions integer NOT NULL,
  amount numeric NOT NULL,
  amounts integer NOT NULL,
  first_at timestamptz NOT NULL,
  PRIMARY KEY (profile_id, day, channel, currency)
);
-- Who was active in a range of days, and since when (new vs returning at the edges of a range).
CREATE INDEX IF NOT EXISTS report_profile_days_day ON report_profile_days (day) INCLUDE (profile_id, first_at);

-- Per profile and currency: its value (the most settled stage of its sales) for customers by value.
CREATE TABLE IF NOT EXISTS report_profile_values (
  profile_id uuid NOT NULL,
  currency text NOT NULL,
  value numeric NOT NULL,
  stage text NOT NULL,
  PRIMARY KEY (profile_id, currency)
);
CREATE INDEX IF NOT EXISTS report_values_desc ON report_profile_values (value DESC, profile_id, currency);
CREATE INDEX IF NOT EXISTS report_values_asc ON report_profile_values (value, profile_id, currency);
CREATE INDEX IF NOT EXISTS report_values_currency_desc ON report_profile_values (currency, value DESC, profile_id);
CREATE INDEX IF NOT EXISTS report_values_currency_asc ON report_profile_values (currency, value, profile_id);

-- The sums. Live and merged profiles.
CREATE TABLE IF NOT EXISTS report_totals (
  name text PRIMARY KEY,
  value bigint NOT NULL
);
-- Per source: records, contacts, profiles holding its records, and records whose profile also holds another source's.
CREATE TABLE IF NOT EXISTS report_sources (
  source text PRIMARY KEY,
  records bigint NOT NULL,
  contacts bigint NOT NULL,
  profiles bigint NOT NULL,
  duplicates bigint NOT NULL
);
-- Per UTC day, channel and currency: interactions and amounts.
CREATE TABLE IF NOT EXISTS report_days (
  day timestamptz NOT NULL,
  channel text NOT NULL,
  currency text NOT NULL,
  interactions bigint NOT NULL,
  amount numeric NOT NULL,
  amounts bigint NOT NULL,
  PRIMARY KEY (day, channel, currency)
);
-- Per grain (day, week, month) and UTC period: profiles first seen in it, profiles with an
-- interaction in it, and those of them first seen in it (returning = active - active_new).
CREATE TABLE IF NOT EXISTS report_periods (
  grain text NOT NULL,
  period timestamptz NOT NULL,
  new bigint NOT NULL,
  active bigint NOT NULL,
  active_new bigint NOT NULL,
  PRIMARY KEY (grain, period)
);
