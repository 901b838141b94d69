"""The FSDD loaders: the shared recordings (skipped when absent) and broken files written to tmp_path."""

from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from augbench.data import DATASETS, load_dataset
from augbench.data.fsdd import parse_wav
from augbench.errors import ConfigError, DataError

SHARED_FSDD = Path(os.environ["AUGBENCH_DATA"]) / "fsdd"  # AUGBENCH_DATA is set by tests/conftest.py


def shared_fsdd() -> Path:
    if not (SHARED_FSDD / "recordings").is_dir():
        pytest.skip(f"shared data folder {SHARED_FSDD} not found")
    return SHARED_FSDD


def wav_bytes(samples: np.ndarray, rate: int = 8000, channels: int = 1, bits: int = 16, tag: int = 1,
              extra: bytes = b"") -> bytes:
    """A RIFF/WAVE file: ``fmt `` (then ``extra`` chunks) and ``data`` with ``samples`` as int16."""
    data = samples.astype("<i2").tobytes()
    align = channels * bits // 8
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def one_line(info: pytest.ExceptionInfo[BaseException], *fragments: str) -> None:
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def fake_fsdd(root: Path, lengths: dict[str, int]) -> Path:
    """Recordings ``name -> length`` of a ramp ``0, 1, 2, ...`` (int16) under ``root/recordings``."""
    (root / "recordings").mkdir(parents=True)
    for name, length in lengths.items():
        (root / "recordings" / name).write_bytes(wav_bytes(np.arange(length)))
    return root


def test_registered_names():
    assert {"fsdd", "fsdd_logmel"} <= set(DATASETS.names())


def test_official_split_counts_and_values():
    root = shared_fsdd()
    train, test = load_dataset("fsdd", root=root), load_dataset("fsdd", root=root, split="test")
    assert train.inputs.shape == (2700, 1, 8000) and test.inputs.shape == (300, 1, 8000)
    assert train.modality == "audio" and train.inputs.dtype == torch.float32
    assert torch.equal(train.labels.bincount(), torch.full((10,), 270)) and torch.equal(test.labels.bincount(), torch.full((10,), 30))
    assert train.class_names == tuple("0123456789")
    assert float(train.inputs.abs().max()) <= 1.0
    # the first test recording (0_george_0.wav, sorted by digit, speaker, index) read independently
    # as the data README does (int16 samples from byte 44), centred in the 8,000-sample window
    raw = np.fromfile(root / "recordings" / "0_george_0.wav", "<i2", offset=44).astype(np.float32) / 32768
    start = (8000 - raw.size) // 2
    assert torch.equal(test.inputs[0, 0, start : start + raw.size], torch.from_numpy(raw))
    assert torch.all(test.inputs[0, 0, :start] == 0) and torch.all(test.inputs[0, 0, start + raw.size :] == 0)


def test_long_recordings_are_cut_at_both_ends():
    root = shared_fsdd()
    short = load_dataset("fsdd", root=root, split="test", length=1000)
    raw = np.fromfile(root / "recordings" / "0_george_0.wav", "<i2", offset=44).astype(np.float32) / 32768
    start = (raw.size - 1000) // 2
    assert torch.equal(short.inputs[0, 0], torch.from_numpy(raw[start : start + 1000]))


def test_logmel_variant_is_a_spectrogram_dataset():
    data = load_dataset("fsdd_logmel", root=shared_fsdd(), split="test")
    assert data.modality == "spectrogram" and data.inputs.shape == (300, 1, 40, 63)
    assert torch.isfinite(data.inputs).all() and data.inputs.min() >= np.log(1e-6) - 1e-4


def test_a_corrupt_recording_fails_the_checksum(tmp_path):
    source = shared_fsdd()
    (tmp_path / "recordings").mkdir()
    (tmp_path / "SHA256SUMS").write_bytes((source / "SHA256SUMS").read_bytes())
    for path in (source / "recordings").iterdir():
        (tmp_path / "recordings" / path.name).symlink_to(path)
    victim = tmp_path / "recordings" / "3_jackson_2.wav"
    victim.unlink()
    content = bytearray((source / "recordings" / "3_jackson_2.wav").read_bytes())
    content[100] ^= 0xFF
    victim.write_bytes(bytes(content))
    with pytest.raises(DataError) as info:
        load_dataset("fsdd", root=tmp_path, split="test")
    one_line(info, "3_jackson_2.wav", "SHA-256", "verify=False")
    assert load_dataset("fsdd", root=tmp_path, split="test", verify=False).inputs.shape == (300, 1, 8000)
    (tmp_path / "recordings" / "9_yweweler_49.wav").unlink()
    with pytest.raises(DataError) as info:
        load_dataset("fsdd", root=tmp_path, split="train")
    one_line(info, "missing", "9_yweweler_49.wav")


def test_fake_recordings_without_verification(tmp_path):
    root = fake_fsdd(tmp_path, {"3_ann_0.wav": 10, "3_ann_12.wav": 3, "1_bob_7.wav": 5, "readme.txt.wav": 4})
    train = load_dataset("fsdd", root=root, verify=False, length=6)
    assert train.labels.tolist() == [1, 3]  # sorted by digit, speaker, index; index 0 is test
    ramp = torch.arange(5, dtype=torch.float32) / 32768
    assert torch.equal(train.inputs[0, 0], torch.cat([ramp, torch.zeros(1)]))  # padded: 0 left, 1 right
    assert torch.equal(train.inputs[1, 0], torch.tensor([0.0, 0, 1, 2, 0, 0]) / 32768)  # 3 samples centred
    test = load_dataset("fsdd", root=root, split="test", verify=False, length=4)
    assert torch.equal(test.inputs[0, 0], torch.arange(3.0, 7.0) / 32768)  # 10 samples: the middle 4


def test_verification_needs_the_known_checksum_file(tmp_path):
    root = fake_fsdd(tmp_path, {"3_ann_0.wav": 10})
    with pytest.raises(DataError) as info:
        load_dataset("fsdd", root=root)
    one_line(info, "SHA256SUMS", "verify=False")
    (root / "SHA256SUMS").write_text(hashlib.sha256(b"x").hexdigest() + "  3_ann_0.wav\n")
    with pytest.raises(DataError) as info:
        load_dataset("fsdd", root=root)
    one_line(info, "SHA256SUMS", "SHA-256")


@pytest.mark.parametrize(
    "options, fragment",
    [({"split": "val"}, "split"), ({"length": 0}, "length"), ({"length": 1.5}, "length")],
)
def test_bad_options(tmp_path, options, fragment):
    root = fake_fsdd(tmp_path, {"3_ann_0.wav": 10})
    with pytest.raises(ConfigError) as info:
        load_dataset("fsdd", root=root, verify=False, **options)
    one_line(info, fragment)


def test_missing_folders_and_empty_splits(tmp_path):
    with pytest.raises(DataError) as info:
        load_dataset("fsdd", root=tmp_path / "nowhere")
    one_line(info, "does not exist")
    tmp_path.joinpath("empty").mkdir()
    with pytest.raises(DataError) as info:
        load_dataset("fsdd", root=tmp_path / "empty", verify=False)
    one_line(info, "recordings")
    root = fake_fsdd(tmp_path / "only_test", {"3_ann_0.wav": 10})
    with pytest.raises(DataError) as info:
        load_dataset("fsdd", root=root, verify=False)
    one_line(info, "no train recordings")


def test_parse_wav_reads_pcm_and_skips_other_chunks():
    extra = b"LIST" + struct.pack("<I", 3) + b"abc" + b"\x00"  # an odd-sized chunk and its pad byte
    wav = parse_wav("t", "x.wav", wav_bytes(np.array([1, -2, 3, -4]), channels=2, extra=extra))
    assert (wav.sample_rate, wav.channels, wav.bits) == (8000, 2, 16)
    assert wav.samples.tolist() == [[1, 3], [-2, -4]]


@pytest.mark.parametrize(
    "content, fragments",
    [
        (b"OggS" + b"\x00" * 40, ("not a RIFF/WAVE",)),
        (wav_bytes(np.arange(10))[:-6], ("truncated",)),
        (wav_bytes(np.arange(10), tag=3), ("format tag 0x0003", "PCM")),
        (wav_bytes(np.arange(10), tag=0xFFFE), ("0xfffe",)),
        (wav_bytes(np.arange(10), bits=8), ("8-bit",)),
        (wav_bytes(np.arange(0)), ("empty or truncated",)),
        (b"RIFF" + struct.pack("<I", 12) + b"WAVE" + b"data" + struct.pack("<I", 0), ("before any 'fmt '",)),
        (b"RIFF" + struct.pack("<I", 4) + b"WAVE", ("no 'data' chunk",)),
    ],
)
def test_parse_wav_refuses_other_files_in_one_line(content, fragments):
    with pytest.raises(DataError) as info:
        parse_wav("t", "x.wav", content)
    one_line(info, "x.wav", *fragments)


@pytest.mark.parametrize("rate, channels, fragment", [(16000, 1, "16000 Hz"), (8000, 2, "2 channel")])
def test_the_loader_refuses_other_rates_and_stereo(tmp_path, rate, channels, fragment):
    (tmp_path / "recordings").mkdir()
    (tmp_path / "recordings" / "5_ann_9.wav").write_bytes(wav_bytes(np.arange(20), rate=rate, channels=channels))
    with pytest.raises(DataError) as info:
        load_dataset("fsdd", root=tmp_path, verify=False)
    one_line(info, "5_ann_9.wav", fragment)
