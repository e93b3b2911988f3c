"""The garbage-collector settings of an engine process (source or sink), set once by ``cdc-engine start``.

The record paths allocate a few short-lived dicts and tuples per change and create no reference cycles, so cyclic
GC passes are pure overhead (~4% of a source stream's CPU, docs/performance.md; more in a sink, whose batches of
2,000 decoded records are walked by every young-generation pass): everything loaded at start-up is left out of
full collections (``gc.freeze``) and the young generation is collected less often. Reference counting still frees
every record as soon as its batch is done, so memory stays bounded.
"""

from __future__ import annotations

import gc

YOUNG_GENERATION_THRESHOLD = 10_000


def tune_for_streaming() -> None:
    """Called by the CLI right before the connector runs, and by the benchmarks that run a runtime in their own
    process (so they measure what ``cdc-engine start`` does)."""
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, 10, 10)
