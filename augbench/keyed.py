"""Keyed (counter-based) randomness: a sample's draw depends on (seed, key, stream) alone.

With ``t(x, keys=sample_ids, seed=s)`` every random number a transform draws for sample ``b``
is a hash of ``(s, keys[b], stream, call, element)``: the seed, the sample's key, which
transform is drawing (its position in a pipeline), how many draws that transform made before,
and the position inside a multi-element draw. Nothing depends on the batch the sample sits in,
its position, the batch size, the device or the DataLoader worker, so a sample gets the same
augmentation however the data is shuffled, batched or sharded. Pass the epoch into the key
(e.g. ``keys = epoch * len(dataset) + ids``) to vary it across epochs.

The hash is a 32-bit integer mixer evaluated with exact int64 tensor arithmetic on accelerators
(every product stays below 2**63) and with wrapping ``uint32`` numpy arithmetic on the CPU
(fewer, cheaper operations); both give the same bits, so CPU and GPU draws are identical.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from augbench.errors import ConfigError, InputTypeError, InputValueError

__all__ = ["KeyedGenerator", "sample_keys", "KEY_VIEWS"]

KEY_VIEWS = 16
"""Keys leave room for this many independently augmented views of one sample per pass (0..15)."""


def sample_keys(ids: Tensor, passes: int, pool_size: int, view: int = 0) -> Tensor:
    """Keys of dataset samples for keyed draws: ``(passes * pool_size + ids) * 16 + view``.

    A sample's augmentation then depends on the seed, its index ``ids`` in a pool of
    ``pool_size`` samples, how many passes over the pool came before (the epoch) and the view,
    never on batch order, batch size or DataLoader worker; the benchmark's loop and
    :class:`augbench.loader.BatchAugment` both use it.

    >>> sample_keys(torch.tensor([3, 0]), passes=2, pool_size=10, view=1).tolist()
    [369, 321]
    """
    if isinstance(view, bool) or not isinstance(view, int) or not 0 <= view < KEY_VIEWS:
        raise ConfigError(f"ctx.keys(view={view}): view must be in 0..{KEY_VIEWS - 1}")
    return (passes * pool_size + ids) * KEY_VIEWS + view

_MASK32 = 0xFFFFFFFF
_MIX_A = 0x7FEB352D
_MIX_B = 0x846CA68B
_GOLDEN = 0x9E3779B9


def _mul32(x: Tensor, constant: int) -> Tensor:
    """``x * constant mod 2**32`` for ``x`` in [0, 2**32), without int64 overflow."""
    low, high = constant & 0xFFFF, constant >> 16
    return (x * low + (((x * high) & 0xFFFF) << 16)) & _MASK32


def _mix(x: Tensor) -> Tensor:
    """A bijective 32-bit avalanche mixer on int64 tensors holding values in [0, 2**32)."""
    x = x ^ (x >> 16)
    x = _mul32(x, _MIX_A)
    x = x ^ (x >> 15)
    x = _mul32(x, _MIX_B)
    return x ^ (x >> 16)


def _mix_int(value: int) -> int:
    """:func:`_mix` of one Python integer (its low 32 bits), in exact integer arithmetic."""
    x = value & _MASK32
    x ^= x >> 16
    x = (x * _MIX_A) & _MASK32
    x ^= x >> 15
    x = (x * _MIX_B) & _MASK32
    return x ^ (x >> 16)


_NP_A, _NP_B, _NP_GOLDEN = np.uint32(_MIX_A), np.uint32(_MIX_B), np.uint32(_GOLDEN)
_NP_SHIFTS = (np.uint32(8), np.uint32(15), np.uint32(16))


def _mix_np(x: np.ndarray) -> np.ndarray:
    """:func:`_mix` on a ``uint32`` array: unsigned products wrap modulo 2**32, the same bits as
    the exact int64 arithmetic of the tensor version, in a third of the operations (the CPU path)."""
    _, fifteen, sixteen = _NP_SHIFTS
    x = x ^ (x >> sixteen)
    x = x * _NP_A
    x = x ^ (x >> fifteen)
    x = x * _NP_B
    return x ^ (x >> sixteen)


class KeyedGenerator:
    """A source of per-sample random numbers addressed by sample keys instead of a stream.

    It stands in for a ``torch.Generator`` in augbench's draws (see :mod:`augbench.random`).
    Each call to :meth:`rand` is one "draw"; the ``k``-th draw of a stream gives sample ``b``
    the same numbers in any batch.

    Args:
        keys: ``(B,)`` integer sample keys (e.g. dataset indices), any device.
        seed: the experiment seed.
        stream: identifies the drawing transform (``Compose`` gives each child its own).

    Example:
        >>> ids = torch.tensor([7, 3, 9])
        >>> a = KeyedGenerator(ids, seed=0).rand((3,))
        >>> b = KeyedGenerator(ids[[2, 0]], seed=0).rand((2,))
        >>> torch.equal(a[[2, 0]], b)
        True
    """

    def __init__(self, keys: Tensor, seed: int, stream: tuple[int, ...] = ()) -> None:
        if not isinstance(keys, Tensor) or keys.ndim != 1 or keys.is_floating_point() or keys.is_complex():
            raise InputTypeError(
                f"keys must be a 1-D integer tensor of sample ids, got {getattr(keys, 'dtype', type(keys).__name__)} "
                f"with shape {tuple(getattr(keys, 'shape', ()))}; pass e.g. torch.arange(B)"
            )
        if not isinstance(seed, int):
            raise InputTypeError(f"seed must be an int when keys are given, got {seed!r}")
        self.keys = keys.long()
        self.seed = seed
        self.stream = stream
        self.device = keys.device
        self._calls = 0
        base = _mix_int(seed ^ _GOLDEN)
        for part in stream:
            base = _mix_int(base ^ _mix_int(part + 1))
        self._base = base
        key_low = self.keys & _MASK32
        key_high = (self.keys >> 32) & _MASK32
        if self.device.type == "cpu":  # numpy uint32: the same bits, far fewer operator calls
            low, high = key_low.numpy().astype(np.uint32), key_high.numpy().astype(np.uint32)
            self._key_hash_np = _mix_np(_mix_np(low ^ _NP_GOLDEN) ^ high)
        else:
            self._key_hash = _mix(_mix(key_low ^ _GOLDEN) ^ key_high)  # (B,), per-sample, stream-free

    def __len__(self) -> int:
        return self.keys.shape[0]

    def child(self, index: int) -> KeyedGenerator:
        """An independent stream for the ``index``-th sub-transform (same keys and seed)."""
        return KeyedGenerator(self.keys, self.seed, (*self.stream, index))

    def rand(self, shape: tuple[int, ...]) -> Tensor:
        """Uniform float32 numbers in [0, 1) of ``shape``; ``shape[0]`` must be the number of keys."""
        if not shape or shape[0] != len(self):
            raise InputValueError(
                f"a keyed draw of shape {shape} does not match the {len(self)} keys; "
                "keys need one entry per sample of the batch"
            )
        call_hash = _mix_int(self._base ^ _mix_int(self._calls * _GOLDEN))
        self._calls += 1
        elements = math.prod(shape[1:])
        if self.device.type == "cpu":
            index_np = np.arange(elements, dtype=np.uint32)
            bits_np = _mix_np(_mix_np(self._key_hash_np[:, None] ^ np.uint32(call_hash)) ^ index_np[None, :])
            bits_np = _mix_np(bits_np ^ (index_np * _NP_GOLDEN)[None, :])
            uniform = (bits_np >> _NP_SHIFTS[0]).astype(np.float32) * np.float32(1.0 / (1 << 24))
            return torch.from_numpy(uniform).reshape(shape)
        index = torch.arange(elements, device=self.device, dtype=torch.int64)
        bits = _mix(_mix(self._key_hash[:, None] ^ call_hash) ^ index[None, :])
        bits = _mix(bits ^ ((index[None, :] * _GOLDEN) & _MASK32))
        return ((bits >> 8).to(torch.float32) * (1.0 / (1 << 24))).reshape(shape)
