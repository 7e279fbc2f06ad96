"""AppView ingestion: firehose consumer, per-collection indexers, batching and backfill.

Entry points: :class:`~sonet.appview.ingest.service.IngestService` (everything, from an
:class:`~sonet.appview.ingest.service.IngestConfig`);
:class:`~sonet.appview.ingest.indexer.Indexer` (applies batches of
:mod:`~sonet.appview.ingest.events` in one transaction);
:class:`~sonet.appview.ingest.pipeline.IngestPipeline` and
:class:`~sonet.appview.ingest.firehose.FirehoseConsumer` (``subscribeRepos`` with a saved
cursor); :class:`~sonet.appview.ingest.backfill.Backfiller` (listRepos + getRepo);
:class:`~sonet.appview.ingest.handles.HandleRefresher` (verified handles).
"""
