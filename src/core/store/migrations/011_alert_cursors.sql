-- Where the scheduled inactive rule left off (src/core/events/alerts.ts), per rule: it reads the
-- report rollups' last interaction per profile in order from (last_at, last_id), and the profiles
-- changed since (changed_at, changed_id), instead of every interaction on every check.
CREATE TABLE IF NOT EXISTS alert_cursors (
  rule text PRIMARY KEY,
  days double precision NOT NULL,
  last_at timestamptz,
  last_id uuid,
  changed_at timestamptz,
  changed_id uuid
);
