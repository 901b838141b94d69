"""The phase weights cache: a finished phase's weights under the hash of everything it depends on.

One file per phase, ``<folder>/<key>.pt``, written atomically (a temporary file, then
``os.replace``), so a killed run never leaves half a file. It holds plain tensors, numbers and
strings only and is read with ``torch.load(weights_only=True)``: a cache file cannot run code.
A file that does not parse, or that was written for another spec, is an error naming the file
and the fix (delete it); the cache never silently trains over or uses a wrong file.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from augbench.errors import ConfigError

__all__ = ["PhaseCache", "CachedPhase", "CACHE_FORMAT"]

CACHE_FORMAT = 1


class PhaseCacheError(ConfigError):
    """A phase cache file is corrupt or belongs to another spec."""


@dataclass
class CachedPhase:
    """What a finished phase leaves behind.

    Attributes:
        model: the model's ``state_dict``.
        modules: ``state_dict`` of every extra module the method registered (heads, EMA copies).
        curves: ``(epoch, name, value)`` per-epoch logs of the phase.
        metrics: the phase's cost figures (``train_time_s``, ``augmentation_time_s``, ...).
    """

    model: dict[str, torch.Tensor]
    modules: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    curves: list[tuple[int, str, float]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)


class PhaseCache:
    """Phase weights on disk; ``folder=None`` disables caching (nothing read or written).

    Args:
        folder: where the files go (created on first save).
    """

    def __init__(self, folder: str | os.PathLike[str] | None) -> None:
        self.folder = None if folder is None else Path(folder)

    def path(self, key: str) -> Path | None:
        """The file of phase ``key`` (``None`` when caching is off)."""
        return None if self.folder is None else self.folder / f"{key}.pt"

    def load(self, key: str, spec: str) -> CachedPhase | None:
        """The cached phase ``key``, ``None`` if there is none.

        Raises:
            PhaseCacheError: the file is corrupt or was written for a different ``spec``.
        """
        path = self.path(key)
        if path is None or not path.is_file():
            return None
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # any unreadable file: corrupt, truncated, not a torch file
            raise PhaseCacheError(
                f"phase cache file {path} is corrupt ({type(error).__name__}: {str(error).splitlines()[0][:80] if str(error) else ''}); "
                "delete it to train the phase again"
            ) from None
        if not isinstance(payload, dict) or payload.get("format") != CACHE_FORMAT or "model" not in payload:
            raise PhaseCacheError(f"phase cache file {path} is not an augbench phase file; delete it to train the phase again")
        if payload.get("key") != key or payload.get("spec") != spec:
            raise PhaseCacheError(
                f"phase cache file {path} was written for another spec than phase {key}; "
                "delete it to train the phase again"
            )
        return CachedPhase(
            model=payload["model"],
            modules=payload.get("modules", {}),
            curves=[(int(e), str(n), float(v)) for e, n, v in payload.get("curves", [])],
            metrics={str(k): float(v) for k, v in payload.get("metrics", {}).items()},
        )

    def save(self, key: str, spec: str, phase: CachedPhase) -> None:
        """Write phase ``key`` atomically (no-op when caching is off)."""
        path = self.path(key)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        payload: dict[str, Any] = {
            "format": CACHE_FORMAT,
            "key": key,
            "spec": spec,
            "model": phase.model,
            "modules": phase.modules,
            "curves": [list(entry) for entry in phase.curves],
            "metrics": phase.metrics,
        }
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{key}.", suffix=".tmp")
        os.close(handle)
        try:
            torch.save(payload, temporary)
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
