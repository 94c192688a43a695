"""Keep the garbage collector's full sweeps short in a long-running server process.

CPython's cyclic collector walks every tracked object of the oldest generation in a full collection.  A
worker holds ~100,000-190,000 long-lived objects (the FHIR model and search registry, ICD-10 with its
type-ahead index, the catalogues, compiled templates), so a full collection took 85 ms on a quiet machine
and 170-290 ms on the loaded 2-core bench machine, inside whatever request happened to allocate the
object that triggered it: the department board's p95 of 235-280 ms against a p50 of 45-80 ms was these
pauses (``gc.callbacks`` timing, bench/screens_time.py).  :func:`freeze` loads the long-lived data first,
then moves everything alive into the permanent generation (``gc.freeze``, Python 3.7+), which later
collections skip; the same full collection then takes ~1 ms.  Nothing is cached or kept alive by this:
it only changes which objects the collector re-examines.  Garbage created later is collected as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable


def freeze(warm: Iterable[Callable[[], object]] = ()) -> int:
    """Run the ``warm`` loaders (so their data is frozen too), collect, freeze; the number frozen."""
    for load in warm:
        load()
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def unfreeze() -> None:
    """At shutdown: hand the frozen objects back to the collector (tests start many apps in one process)."""
    gc.unfreeze()
