"""XRPC areas of the PDS: each module registers one group of methods."""
