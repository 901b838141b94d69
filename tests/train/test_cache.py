"""The phase weights cache: atomic files, safe loading, refusal of corrupt or foreign files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from augbench.errors import ConfigError
from augbench.train.cache import CachedPhase, PhaseCache


def _phase() -> CachedPhase:
    return CachedPhase({"w": torch.arange(3.0)}, {"ema": {"w": torch.ones(2)}}, [(0, "train_loss", 1.5)], {"train_time_s": 2.0})


def test_round_trip_and_no_temporary_left(tmp_path: Path) -> None:
    cache = PhaseCache(tmp_path / "c")
    assert cache.load("k", "{}") is None
    cache.save("k", "{}", _phase())
    loaded = cache.load("k", "{}")
    assert loaded is not None and torch.equal(loaded.model["w"], torch.arange(3.0))
    assert torch.equal(loaded.modules["ema"]["w"], torch.ones(2))
    assert loaded.curves == [(0, "train_loss", 1.5)] and loaded.metrics == {"train_time_s": 2.0}
    assert [p.name for p in (tmp_path / "c").iterdir()] == ["k.pt"]


def test_disabled_cache_reads_and_writes_nothing(tmp_path: Path) -> None:
    cache = PhaseCache(None)
    cache.save("k", "{}", _phase())
    assert cache.load("k", "{}") is None and cache.path("k") is None


def test_a_pickle_with_code_is_refused(tmp_path: Path) -> None:
    """weights_only=True: a cache file cannot run code when it is read."""

    class Evil:
        def __reduce__(self):  # noqa: ANN204
            return (print, ("pwned",))

    path = tmp_path / "k.pt"
    torch.save({"format": 1, "key": "k", "spec": "{}", "model": Evil()}, path)
    with pytest.raises(ConfigError, match="is corrupt") as info:
        PhaseCache(tmp_path).load("k", "{}")
    assert len(str(info.value).splitlines()) == 1


@pytest.mark.parametrize(("payload", "message"), [
    ({"format": 1, "key": "k", "spec": "{\"other\": 1}", "model": {}}, "written for another spec"),
    ({"format": 1, "key": "other", "spec": "{}", "model": {}}, "written for another spec"),
    ({"weights": {}}, "not an augbench phase file"),
])
def test_foreign_files_are_refused_with_the_fix(tmp_path: Path, payload: dict, message: str) -> None:
    torch.save(payload, tmp_path / "k.pt")
    with pytest.raises(ConfigError, match=f"{message}.*delete it"):
        PhaseCache(tmp_path).load("k", "{}")
