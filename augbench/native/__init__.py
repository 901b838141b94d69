"""Optional compiled kernels: C sources in this package, built with the machine's C compiler.

Each ``<name>.c`` here is plain C (no torch or Python headers), compiled on first use into a
shared library cached under ``$AUGBENCH_NATIVE_DIR`` (default ``~/.cache/augbench/native``) and
called through :mod:`ctypes` on tensors' data pointers. The install step (``make install``) builds
them ahead of time with ``python -m augbench.native``.

Every kernel has a pure-torch fallback that gives bit-identical results (tested), so the compiled
part is only ever a speed-up: with no compiler, a failed build, or ``AUGBENCH_NATIVE=0``, the
callers use the fallback. The library name is a hash of the source, the compiler and its flags,
so an edited source or another compiler never loads a stale build.

Flags: ``-O3 -march=native`` (vector units of this CPU; the CPU's model and flags are part of
the hash) with ``-ffp-contract=off`` (no fused multiply-adds, which would change float32 results
against torch's separate multiplications and additions) and no ``-ffast-math``: every operation
is IEEE-rounded as torch's are, whatever the vector width.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import torch

__all__ = ["BYTES_PER_THREAD", "NATIVE_ENV_VAR", "NATIVE_DIR_ENV_VAR", "RETURNS", "SIGNATURES", "SOURCES", "build", "cache_dir", "library", "thread_count"]

NATIVE_ENV_VAR = "AUGBENCH_NATIVE"
"""Set to ``0`` to use the pure-torch fallbacks only."""
NATIVE_DIR_ENV_VAR = "AUGBENCH_NATIVE_DIR"
"""Folder of the compiled libraries (default ``~/.cache/augbench/native``)."""

_POINTER, _INT, _INT64 = ctypes.c_void_p, ctypes.c_int, ctypes.c_int64
SIGNATURES: dict[str, dict[str, list[type]]] = {
    "color": {
        # images, is_uint8, batch, channels, pixels, brightness, luma_out
        "cj_luma": [_POINTER, _INT, _INT64, _INT64, _INT64, _POINTER, _POINTER],
        # images, is_uint8, batch, channels, pixels, brightness, mean, contrast, saturation, hue, out
        "cj_apply": [_POINTER, _INT, _INT64, _INT64, _INT64, *[_POINTER] * 6],
        # images, batch, channels, pixels, sums (B,) int64, threads
        "grey_sums_uint8": [_POINTER, _INT64, _INT64, _INT64, _POINTER, _INT],
        # images, batch, pixels, factor (B,) float32, out, threads
        "saturation_uint8": [_POINTER, _INT64, _INT64, _POINTER, _POINTER, _INT],
        # images, batch, channels, pixels, base (B,) float32, factor (B,) float32, out, threads
        "blend_uint8": [_POINTER, *[_INT64] * 3, _POINTER, _POINTER, _POINTER, _INT],
    },
    "resample": {
        # images, batch, channels, height, width, row taps, row coefficients, row filters, out height,
        # row K, col taps, col coefficients, col filters, out width, col K, vertical_first, channels_last, out, threads
        "resample_fixed_uint8": [
            _POINTER, *[_INT64] * 4, _POINTER, _POINTER, *[_INT64] * 3, _POINTER, _POINTER, *[_INT64] * 3,
            _INT, _INT, _POINTER, _INT,
        ],
    },
    "audio": {
        # waveforms, element bytes, batch, channels, length, steps (B,), roll, out, threads
        "audio_shift": [_POINTER, *[_INT64] * 4, _POINTER, _INT, _POINTER, _INT],
        # waveforms, noise, scale (B,), fused, batch, channels, length, steps (B,), roll, out, threads
        "audio_noise_shift": [_POINTER, _POINTER, _POINTER, _INT, *[_INT64] * 3, _POINTER, _INT, _POINTER, _INT],
    },
    "histogram": {
        # images, rows (B * C), pixels (H * W), out, threads
        "autocontrast_uint8": [_POINTER, _INT64, _INT64, _POINTER, _INT],
        "equalize_uint8": [_POINTER, _INT64, _INT64, _POINTER, _INT],
    },
    "sharpness": {
        # images, batch, channels, height, width, factor (B,) float32, out, threads
        "sharpness_uint8": [_POINTER, *[_INT64] * 4, _POINTER, _POINTER, _INT],
    },
    "warp": {
        # images, element bytes, batch, channels, height, width, the four (B, out) int64 tables,
        # out height, out width, fill (C values), out, threads
        "warp_nearest": [_POINTER, *[_INT64] * 5, *[_POINTER] * 4, _INT64, _INT64, _POINTER, _POINTER, _INT],
        # images, element bytes, batch, channels, height, width, matrices (B, 6) float64, out height,
        # out width, fill (C values), out, threads
        "warp_nearest_matrix": [_POINTER, *[_INT64] * 5, _POINTER, _INT64, _INT64, _POINTER, _POINTER, _INT],
    },
    "mixing": {
        # images, element bytes, batch, channels, height, width, index, top, left, box height,
        # box width (each (B,) int64), out, threads
        "paste_boxes": [_POINTER, *[_INT64] * 5, *[_POINTER] * 6, _INT],
    },
    "sequence": {
        # items, batch, width, offsets, eta, out, threads
        "seq_crop": [_POINTER, _INT64, _INT64, _POINTER, ctypes.c_double, _POINTER, _INT],
        # items, batch, width, scores, gamma, mask id, out, threads
        "seq_mask": [_POINTER, _INT64, _INT64, _POINTER, ctypes.c_double, _INT64, _POINTER, _INT],
        # items, batch, width, offsets, keys, beta, out, threads
        "seq_reorder": [_POINTER, _INT64, _INT64, _POINTER, _POINTER, ctypes.c_double, _POINTER, _INT],
        # scores, allowed, counts, batch, width, out, threads
        "seq_smallest": [_POINTER, _POINTER, _POINTER, _INT64, _INT64, _POINTER, _INT],
    },
}
"""Each C source of this package (``<name>.c``) and the argument types of its functions."""
RETURNS: dict[str, type | None] = {
    "resample_fixed_uint8": ctypes.c_int, "warp_nearest": ctypes.c_int, "warp_nearest_matrix": ctypes.c_int,
    "saturation_uint8": ctypes.c_int,
    **dict.fromkeys(("seq_crop", "seq_mask", "seq_reorder", "seq_smallest"), ctypes.c_int),
}
"""Functions that return a status (0: done); the others return nothing."""
SOURCES = tuple(SIGNATURES)

_FLAGS = ("-O3", "-march=native", "-std=c11", "-ffp-contract=off", "-fno-math-errno", "-fPIC", "-shared", "-pthread")
_HERE = Path(__file__).resolve().parent


BYTES_PER_THREAD = 4 * 2**20
"""Work (bytes of output) a kernel gives each thread at least: creating and joining a thread costs
~50 us on an idle machine and milliseconds on a loaded one, so small batches run on one thread."""


def thread_count(work_bytes: int) -> int:
    """Threads for a kernel writing ``work_bytes``: ``torch.get_num_threads()`` at most, one per
    :data:`BYTES_PER_THREAD` (a 512 x 3 x 32 x 32 uint8 batch: one; 64 x 3 x 224 x 224: two)."""
    return max(1, min(torch.get_num_threads(), work_bytes // BYTES_PER_THREAD))


def cache_dir() -> Path:
    """Where compiled libraries are kept."""
    configured = os.environ.get(NATIVE_DIR_ENV_VAR)
    return Path(configured) if configured else Path.home() / ".cache" / "augbench" / "native"


def _compiler() -> str | None:
    return shutil.which(os.environ.get("CC", "cc"))


def _library_path(name: str, compiler: str) -> Path:
    digest = hashlib.sha256()
    digest.update((_HERE / f"{name}.c").read_bytes())
    for header in sorted(_HERE.glob("*.h")):  # the shared headers every source may include
        digest.update(header.read_bytes())
    digest.update(" ".join((compiler, *_FLAGS)).encode())
    digest.update(Path(compiler).resolve().read_bytes()[:1 << 20])  # another compiler build, another name
    digest.update(_cpu_identity().encode())  # -march=native: another CPU, another build
    return cache_dir() / f"{name}-{digest.hexdigest()[:16]}.so"


def _cpu_identity() -> str:
    """The machine type and the CPU's model and feature flags (what ``-march=native`` compiles for)."""
    identity = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "flags")):
                identity += line
                if line.startswith("flags"):
                    break
    except OSError:
        identity += platform.processor()
    return identity


def build(name: str) -> Path:
    """Compile ``<name>.c`` (unless its library is cached) and return the library's path.

    Raises:
        RuntimeError: no C compiler (``$CC`` or ``cc``), or the compiler failed; one line
            naming the fix.
    """
    compiler = _compiler()
    if compiler is None:
        raise RuntimeError(f"no C compiler found ({os.environ.get('CC', 'cc')}); install gcc or set CC")
    target = _library_path(name, compiler)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the target and rename into place: concurrent builds never load a half-written file.
    handle, partial = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(handle)
    try:
        command = [compiler, *_FLAGS, "-o", partial, str(_HERE / f"{name}.c"), "-lm"]
        finished = subprocess.run(command, capture_output=True, text=True, check=False)
        if finished.returncode != 0:
            first = (finished.stderr.strip().splitlines() or ["no message"])[0]
            raise RuntimeError(f"compiling {name}.c failed ({first}); set {NATIVE_ENV_VAR}=0 to use the torch kernels")
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return target


@lru_cache(maxsize=None)
def library(name: str) -> ctypes.CDLL | None:
    """The compiled library ``name``, built on first use; ``None`` when it cannot be had.

    ``None`` (the callers then run their torch fallback) when ``AUGBENCH_NATIVE=0``, when there is
    no C compiler, or when the build fails.
    """
    if os.environ.get(NATIVE_ENV_VAR, "1") == "0":
        return None
    try:
        compiled = ctypes.CDLL(str(build(name)))
    except (RuntimeError, OSError):
        return None
    for function, argtypes in SIGNATURES[name].items():
        getattr(compiled, function).argtypes = argtypes
        getattr(compiled, function).restype = RETURNS.get(function)
    return compiled
