"""ActivityPub federation: WebFinger, NodeInfo, actors, inbox/outbox, HTTP signatures."""
