"""PDS accounts: creation, sessions, credentials and hosting status."""
