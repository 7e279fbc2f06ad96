"""Relay: crawls PDSes, verifies every commit and re-streams one combined firehose."""
