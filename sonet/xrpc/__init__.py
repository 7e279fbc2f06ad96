"""XRPC: the HTTP API layer of AT Protocol (https://atproto.com/specs/xrpc)."""
