-- The outbox: events written in the same transaction as the change they describe, so an event is
-- never announced for a change that rolled back, nor lost when a process dies after the commit.
-- A relay moves them on (subscriptions, alerts) and deletes them. The id orders the events of one
-- profile: writers of one profile hold its row lock, so a later writer gets a larger id.
CREATE TABLE events (
  id bigserial PRIMARY KEY,
  type text NOT NULL,
  profile_id uuid,
  data jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
