-- Merging re-points the profiles that already redirect to the merged one (path compression); without
-- this index that is a scan of every profile, on every merge (the benchmark's growth figure).
CREATE INDEX profiles_merged_into ON profiles (merged_into) WHERE merged_into IS NOT NULL;
