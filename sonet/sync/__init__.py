"""Repository sync: the ``subscribeRepos`` event stream shared by the PDS, relay and AppView
(https://atproto.com/specs/event-stream, https://atproto.com/specs/sync)."""
