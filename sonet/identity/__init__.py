"""Identity: DIDs, handles and the PLC directory (https://atproto.com/specs/did)."""
