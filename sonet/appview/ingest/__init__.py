"""AppView ingestion: firehose consumer, per-collection indexers, batching and backfill."""
