-- Outbound webhooks. A subscription names an endpoint and the event types it wants; its secret
-- signs each delivery (Standard Webhooks) and is shown once, when the subscription is created.
-- failing_since: the start of the current run of failed attempts; a run longer than
-- events.disableAfterMs disables the subscription.
CREATE TABLE subscriptions (
  id uuid PRIMARY KEY,
  url text NOT NULL,
  events text[] NOT NULL,
  secret text NOT NULL,
  enabled boolean NOT NULL DEFAULT true,
  disabled_at timestamptz,
  disabled_reason text,
  failing_since timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per (subscription, outbox event). The outbox row is deleted once relayed, so the
-- delivery keeps the payload it sends. A lane is (subscription_id, lane): its pending deliveries
-- go out one at a time in event_id order. lane is the profile id, or the nil uuid for events of no
-- profile, so that lanes compare with = and use the index.
CREATE TABLE deliveries (
  id bigserial PRIMARY KEY,
  subscription_id uuid NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
  event_id bigint NOT NULL,
  event_type text NOT NULL,
  profile_id uuid,
  lane uuid NOT NULL,
  payload jsonb NOT NULL,
  status text NOT NULL DEFAULT 'pending',
  attempts integer NOT NULL DEFAULT 0,
  last_attempt_at timestamptz,
  last_status integer,
  last_body text,
  last_error text,
  leased_until timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz,
  UNIQUE (subscription_id, event_id)
);
CREATE INDEX deliveries_log ON deliveries (subscription_id, id DESC);
CREATE INDEX deliveries_lanes ON deliveries (subscription_id, lane, event_id) WHERE status = 'pending';
-- Finished deliveries leave the log after events.keepDeliveriesDays.
CREATE INDEX deliveries_finished ON deliveries (created_at) WHERE status <> 'pending';

-- What each alert rule has fired, by a key that names the occasion (the interaction, the
-- inactivity period): inserting the key first makes a re-run or a second worker fire nothing.
CREATE TABLE alerts_fired (
  rule text NOT NULL,
  key text NOT NULL,
  profile_id uuid,
  fired_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (rule, key)
);

-- The missedCallNoCallback rule looks for recent inbound calls without reading every record.
CREATE INDEX records_inbound_calls ON records (occurred_at) WHERE kind = 'interaction' AND interaction->>'channel' = 'call' AND interaction->>'direction' = 'inbound'
