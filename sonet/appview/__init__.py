"""AppView: indexes ``app.bsky.*`` records and serves the read API clients call."""
