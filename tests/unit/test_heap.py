"""kernel.heap: start-up data frozen out of the collector's full sweeps, and handed back at shutdown."""

from __future__ import annotations

import gc

from benhan.kernel import heap


def test_freeze_runs_the_loaders_then_freezes_and_unfreeze_hands_back() -> None:
    loaded: list[list[int]] = []
    try:
        frozen = heap.freeze(warm=(lambda: loaded.append([1, 2]),))
        assert loaded == [[1, 2]]
        assert frozen > 0
        assert gc.get_freeze_count() > 0
        # in the permanent generation: tracked, but in no generation a collection walks
        assert gc.is_tracked(loaded[0])
        assert not any(o is loaded[0] for o in gc.get_objects())
    finally:
        heap.unfreeze()
    assert gc.get_freeze_count() == 0
    assert any(o is loaded[0] for o in gc.get_objects())  # collected as usual again
