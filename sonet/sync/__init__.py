"""Repository sync: the ``subscribeRepos`` event stream shared by the PDS, relay and AppView
(https://atproto.com/specs/event-stream, https://atproto.com/specs/sync): message bodies
(``events``), the strict parser (``messages``), commit and ``#sync`` verification (``verifier``),
the account identities events are checked against (``identities``), host names (``hostnames``)
and the fan-out window (``broadcaster``)."""
