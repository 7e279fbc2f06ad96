"""Repository core: DAG-CBOR, CIDs, the Merkle Search Tree, CAR files and signed commits
(https://atproto.com/specs/repository, https://atproto.com/specs/data-model)."""
