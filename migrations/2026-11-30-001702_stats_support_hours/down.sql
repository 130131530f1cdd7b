DELETE FROM chat_stats_support_grouped WHERE hours_utc <> '';
ALTER TABLE chat_stats_support_grouped DROP CONSTRAINT chat_stats_support_grouped_pkey,
    ADD PRIMARY KEY (bucket_start, bucket_end, grouped_by);
ALTER TABLE chat_stats_support_grouped DROP COLUMN hours_utc;
DELETE FROM chat_stats_support_group_buckets WHERE hours_utc <> '';
ALTER TABLE chat_stats_support_group_buckets DROP CONSTRAINT chat_stats_support_group_buckets_pkey,
    ADD PRIMARY KEY (bucket_start, bucket_end, grouped_by, group_kind, group_id);
ALTER TABLE chat_stats_support_group_buckets DROP COLUMN hours_utc;
DELETE FROM chat_stats_support_buckets WHERE hours_utc <> '';
ALTER TABLE chat_stats_support_buckets DROP CONSTRAINT chat_stats_support_buckets_pkey,
    ADD PRIMARY KEY (bucket_start, bucket_end);
ALTER TABLE chat_stats_support_buckets DROP COLUMN hours_utc;
DROP FUNCTION IF EXISTS chat_support_seconds(TIMESTAMPTZ, TIMESTAMPTZ, INTEGER, INTEGER);
DROP FUNCTION IF EXISTS chat_support_seconds_upto(TIMESTAMPTZ, INTEGER, INTEGER);
