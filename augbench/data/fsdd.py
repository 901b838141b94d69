"""The Free Spoken Digit Dataset (Jakobovski et al.): 3,000 spoken digits, 8 kHz mono 16-bit PCM WAV.

Layout (the dataset's own, unchanged): ``<root>/recordings/{digit}_{speaker}_{index}.wav``
and ``<root>/SHA256SUMS`` (``sha256sum`` format, names relative to ``recordings/``). The
official split, from the dataset's README: recordings with index 0-4 are the test set (300
files), index 5-49 the training set (2,700 files).

Each file's RIFF header is parsed (``RIFF``/``WAVE``, the ``fmt `` and ``data`` chunks, other
chunks skipped); anything but uncompressed 16-bit PCM mono at 8,000 Hz is refused with one
line. With ``verify`` (default), ``SHA256SUMS`` must match its known SHA-256 and every
recording listed in it must exist and match its line; without it, every
``{digit}_{speaker}_{index}.wav`` in ``recordings/`` is read unchecked.

Fixed length: recordings are 1,148-18,262 samples (0.14-2.3 s). Each is centred in a window
of ``length`` samples (default 8,000 = 1 s): a shorter one is zero-padded equally on both
sides (the odd sample on the right), a longer one (20 of 3,000 at 8,000) is cut equally at
both ends. Samples are ``int16 / 32768``, floats in [-1, 1).
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from augbench.audio_features import LogMel
from augbench.data.base import DATASETS, Dataset
from augbench.data.files import find_file, read_file, resolve_root, verify_sha256
from augbench.errors import ConfigError, DataError

__all__ = ["WavFile", "parse_wav", "load_fsdd", "load_fsdd_logmel", "SAMPLE_RATE"]

_SUBDIR = "fsdd"
SAMPLE_RATE = 8000
"""Sample rate of every FSDD recording, in Hz."""
_SUMS_SHA256 = "048d4a35c25a99138109f9c400bbe4392a9f5e07eb7bc98350f27b5a0fd11269"
_NAME = re.compile(r"^([0-9])_([a-z]+)_([0-9]+)\.wav$")
_TEST_INDICES = range(5)
_PCM = 1
_CLASSES = tuple(str(digit) for digit in range(10))


@dataclass(frozen=True)
class WavFile:
    """The audio of one PCM WAV file.

    Attributes:
        sample_rate: in Hz.
        channels: interleaved channels in the file.
        bits: bits per sample.
        samples: ``(channels, n)`` int16 array.
    """

    sample_rate: int
    channels: int
    bits: int
    samples: np.ndarray


def parse_wav(dataset: str, path: os.PathLike[str] | str, content: bytes) -> WavFile:
    """Parse a RIFF/WAVE file holding 16-bit PCM; one-line ``DataError`` on anything else.

    Walks the chunks after the 12-byte ``RIFF....WAVE`` header (each ``id``, little-endian
    ``size``, payload padded to an even size), reads ``fmt `` (format tag 1 = PCM, channels,
    rate, block align, bits) and takes the first ``data`` chunk after it; other chunks
    (``LIST``, ``fact``, ...) are skipped.

    Raises:
        DataError: not RIFF/WAVE, a truncated chunk, no ``fmt `` before ``data``, no
            ``data``, a format other than PCM (e.g. 3 = float, 0xFFFE = extensible), other
            than 16 bits, an inconsistent block align, or an empty or ragged ``data`` chunk.
    """
    if len(content) < 12 or content[:4] != b"RIFF" or content[8:12] != b"WAVE":
        raise DataError(f"{dataset}: {path}: not a RIFF/WAVE file (no 'RIFF....WAVE' header); is it a .wav file?")
    offset, fmt = 12, None
    while offset + 8 <= len(content):
        chunk, size = content[offset : offset + 4], struct.unpack_from("<I", content, offset + 4)[0]
        body = offset + 8
        if body + size > len(content):
            raise DataError(
                f"{dataset}: {path}: chunk {chunk.decode('latin-1')!r} at byte {offset} claims {size} bytes, "
                f"only {len(content) - body} remain; the file is truncated: copy it again"
            )
        if chunk == b"fmt ":
            fmt = _parse_fmt(dataset, path, content[body : body + size])
        elif chunk == b"data":
            if fmt is None:
                raise DataError(f"{dataset}: {path}: the 'data' chunk comes before any 'fmt ' chunk; not a valid WAV file")
            return _samples(dataset, path, fmt, content[body : body + size])
        offset = body + size + (size & 1)
    raise DataError(f"{dataset}: {path}: no 'data' chunk; the file is truncated or not audio")


def _parse_fmt(dataset: str, path: os.PathLike[str] | str, body: bytes) -> tuple[int, int, int]:
    """``(channels, sample_rate, bits)`` of a PCM ``fmt `` chunk; one line for any other format."""
    if len(body) < 16:
        raise DataError(f"{dataset}: {path}: the 'fmt ' chunk has {len(body)} bytes, a WAV needs at least 16")
    tag, channels, rate, _, align, bits = struct.unpack_from("<HHIIHH", body)
    if tag != _PCM:
        raise DataError(
            f"{dataset}: {path}: WAV format tag {tag:#06x} is not plain PCM (1); only uncompressed 16-bit PCM "
            "is read: convert the file (e.g. to 16-bit PCM WAV)"
        )
    if bits != 16 or channels < 1 or align != channels * 2:
        raise DataError(
            f"{dataset}: {path}: {bits}-bit PCM with {channels} channel(s) and block align {align}; only 16-bit PCM "
            "is read: convert the file to 16-bit"
        )
    return channels, rate, bits


def _samples(dataset: str, path: os.PathLike[str] | str, fmt: tuple[int, int, int], data: bytes) -> WavFile:
    channels, rate, bits = fmt
    if not data or len(data) % (2 * channels):
        raise DataError(
            f"{dataset}: {path}: the 'data' chunk holds {len(data)} bytes, not a positive multiple of "
            f"{2 * channels} (one 16-bit frame); the file is empty or truncated"
        )
    samples = np.frombuffer(data, dtype="<i2").reshape(-1, channels).T
    return WavFile(rate, channels, bits, np.ascontiguousarray(samples))


def _centre(samples: np.ndarray, length: int) -> np.ndarray:
    """A ``(length,)`` float32 window with the recording centred (zero-padded or cut at both ends)."""
    count = samples.shape[-1]
    out = np.zeros(length, dtype=np.float32)
    if count >= length:
        start = (count - length) // 2
        out[:] = samples[0, start : start + length]
    else:
        start = (length - count) // 2
        out[start : start + count] = samples[0]
    return out / 32768.0


def _known_sums(folder: Path) -> dict[str, str]:
    """File name -> SHA-256 from ``SHA256SUMS`` (itself checked against its known hash)."""
    path = find_file("fsdd", folder, ("SHA256SUMS",), "checksums of the recordings; pass verify=False to skip", subdir=_SUBDIR)
    data = read_file("fsdd", path)
    verify_sha256("fsdd", data, (_SUMS_SHA256,))
    sums = {}
    for number, line in enumerate(data.content.decode("ascii", errors="replace").splitlines(), start=1):
        parts = line.split()
        if len(parts) != 2 or len(parts[0]) != 64:
            raise DataError(f"fsdd: {path} line {number}: expected '<sha256>  <file name>', got {line[:80]!r}")
        sums[parts[1].lstrip("*")] = parts[0]
    return sums


def _recordings(folder: Path, verify: bool) -> list[tuple[str, str | None]]:
    """``(file name, known SHA-256 or None)`` of the recordings to read, sorted by digit, speaker, index."""
    recordings = folder / "recordings"
    if not recordings.is_dir():
        raise DataError(f"fsdd: missing folder {recordings} (the .wav files); expected <root>/recordings/*.wav")
    if verify:
        entries = sorted(_known_sums(folder).items())
    else:
        entries = [(path.name, None) for path in recordings.iterdir() if _NAME.match(path.name)]
    named = [(name, known, _NAME.match(name)) for name, known in entries]
    bad = next((name for name, _, match in named if match is None), None)
    if bad is not None:
        raise DataError(f"fsdd: SHA256SUMS names {bad!r}, not a '<digit>_<speaker>_<index>.wav' recording")
    named.sort(key=lambda item: (item[2].group(1), item[2].group(2), int(item[2].group(3))))  # type: ignore[union-attr]
    if not named:
        raise DataError(f"fsdd: no '<digit>_<speaker>_<index>.wav' files in {recordings}")
    return [(name, known) for name, known, _ in named]


def _read_split(root: str | os.PathLike[str] | None, split: str, verify: bool, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(N, 1, length)`` float32 waveforms and ``(N,)`` labels of one split."""
    if split not in ("train", "test"):
        raise ConfigError(f"fsdd: split={split!r} is not one of 'train', 'test' (index 0-4 = test, 5-49 = train)")
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ConfigError(f"fsdd: length={length!r} must be a whole number of samples >= 1 (8000 = 1 s)")
    folder = resolve_root("fsdd", root, _SUBDIR)
    waveforms, labels = [], []
    for name, known in _recordings(folder, verify):
        digit, _, index = _NAME.match(name).groups()  # type: ignore[union-attr]
        if (int(index) in _TEST_INDICES) != (split == "test"):
            continue
        path = folder / "recordings" / name
        if not path.is_file():
            raise DataError(f"fsdd: missing {path} (listed in SHA256SUMS); copy the recordings again or pass verify=False")
        data = read_file("fsdd", path)
        if known is not None:
            verify_sha256("fsdd", data, (known,))
        wav = parse_wav("fsdd", path, data.content)
        if wav.sample_rate != SAMPLE_RATE or wav.channels != 1:
            raise DataError(
                f"fsdd: {path}: {wav.sample_rate} Hz with {wav.channels} channel(s); FSDD recordings are "
                f"{SAMPLE_RATE} Hz mono: resample or mix down first"
            )
        waveforms.append(_centre(wav.samples, length))
        labels.append(int(digit))
    if not waveforms:
        raise DataError(f"fsdd: no {split} recordings in {folder / 'recordings'} (index 0-4 = test, 5-49 = train)")
    return torch.from_numpy(np.stack(waveforms)).unsqueeze(1), torch.tensor(labels, dtype=torch.int64)


@DATASETS.register("fsdd")
def load_fsdd(
    root: str | os.PathLike[str] | None = None,
    split: Literal["train", "test"] = "train",
    verify: bool = True,
    length: int = 8000,
) -> Dataset:
    """FSDD waveforms (modality ``"audio"``), centred in windows of ``length`` samples.

    Args:
        root: the folder holding ``recordings/`` and ``SHA256SUMS``; default ``$AUGBENCH_DATA/fsdd``.
        split: ``"train"`` (index 5-49, 2,700 recordings) or ``"test"`` (index 0-4, 300).
        verify: check ``SHA256SUMS`` and every recording's SHA-256 (see the module docstring).
        length: window in samples at 8 kHz (see the module docstring for padding and cutting).

    Returns:
        ``(N, 1, length)`` float32 in [-1, 1), ``(N,)`` int64 labels, classes ``"0"``..``"9"``.

    Raises:
        ConfigError: unknown ``split``, a bad ``length``, or no ``root`` and no ``AUGBENCH_DATA``.
        DataError: a missing, corrupt or non-PCM file (one line naming it).
    """
    waveforms, labels = _read_split(root, split, verify, length)
    return Dataset("fsdd", waveforms, labels, _CLASSES, modality="audio")


@DATASETS.register("fsdd_logmel")
def load_fsdd_logmel(
    root: str | os.PathLike[str] | None = None,
    split: Literal["train", "test"] = "train",
    verify: bool = True,
    length: int = 8000,
    n_mels: int = 40,
    n_fft: int = 256,
    hop_length: int = 128,
) -> Dataset:
    """FSDD as log-mel spectrograms (modality ``"spectrogram"``), for the SpecAugment ops.

    The waveforms of :func:`load_fsdd` through :class:`augbench.audio_features.LogMel`
    (Hann STFT, HTK mel filters 0-4 kHz, natural log of the power, floor 1e-6), computed once
    at load time.

    Args:
        root, split, verify, length: as for :func:`load_fsdd`.
        n_mels: mel bins.
        n_fft, hop_length: STFT size and hop in samples (256 and 128: 32 ms windows, 16 ms hops).

    Returns:
        ``(N, 1, n_mels, 1 + length // hop_length)`` float32 (``(N, 1, 40, 63)`` by default),
        ``(N,)`` int64 labels, classes ``"0"``..``"9"``.
    """
    waveforms, labels = _read_split(root, split, verify, length)
    front_end = LogMel(SAMPLE_RATE, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels)
    with torch.no_grad():
        spectrograms = front_end(waveforms)
    return Dataset("fsdd_logmel", spectrograms.contiguous(), labels, _CLASSES, modality="spectrogram")
