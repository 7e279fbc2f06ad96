"""Key pairs, signatures and ``did:key`` (https://atproto.com/specs/cryptography)."""
