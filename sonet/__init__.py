"""Sonet: an AT Protocol server suite (PDS, relay, AppView) that also federates over ActivityPub."""

__version__ = "0.1.0"
