-- Indexes for /v1/reports (figures at 1M profiles in the README).
-- Time ranges (interactions series, new vs returning, first/last record): a range scan, not a table scan.
CREATE INDEX records_occurred ON records (occurred_at);
-- The interactions series filtered by channel.
CREATE INDEX records_channel_occurred ON records ((interaction->>'channel'), occurred_at) WHERE kind = 'interaction';
-- Sources report: records per (profile, source) read from the index alone, without the table.
CREATE INDEX records_profile_source ON records (profile_id, source) INCLUDE (kind);
-- Customers by recency: each profile's last interaction from the index alone.
CREATE INDEX records_profile_interactions ON records (profile_id, occurred_at) WHERE kind = 'interaction';
-- Customers by value: only the sales records (orders, invoices, payments) are read.
CREATE INDEX records_sales ON records (profile_id) WHERE kind = 'interaction' AND interaction->>'channel' IN ('order', 'invoice', 'payment');
