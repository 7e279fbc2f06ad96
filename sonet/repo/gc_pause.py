"""Pause the cyclic garbage collector around bulk work that allocates many acyclic objects.

Decoding or building a large MST creates hundreds of thousands of small lists and dicts; each
young-generation collection rescans them for nothing. Reference counting still frees them.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable automatic collection inside the block (re-entrant; restores the prior state)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
