"""The MSR Action3D and UTKinect-Action3D loaders: real files (skipped when absent) and broken fakes."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

import augbench.data.skeletons as skeletons
from augbench.data import load_dataset
from augbench.errors import ConfigError, DataError
from augbench.functional.skeleton import KINECT_V1, MSR_ACTION3D

DATA = Path(os.environ["AUGBENCH_DATA"])
MSR = DATA / "msr_action3d"
UTK = DATA / "utkinect_action3d"
needs_msr = pytest.mark.skipif(not (MSR / "MSRAction3DSkeletonReal3D.tar.gz").is_file(), reason=f"MSR Action3D not found in {MSR}")
needs_utk = pytest.mark.skipif(not (UTK / "joints.tar.gz").is_file(), reason=f"UTKinect-Action3D not found in {UTK}")


# -- real data ------------------------------------------------------------------------------------


@needs_msr
def test_msr_action3d_cross_subject_split() -> None:
    train = load_dataset("msr_action3d", split="train")
    test = load_dataset("msr_action3d", split="test", frames=16)
    assert (len(train), len(test)) == (284, 273)  # 557 standard sequences
    assert train.inputs.shape == (284, 32, 20, 3) and test.inputs.shape == (273, 16, 20, 3)
    assert train.inputs.dtype == torch.float32 and train.modality == "skeleton"
    assert train.num_classes == 20 and set(train.labels.tolist()) == set(range(20)) == set(test.labels.tolist())
    assert train.bones == MSR_ACTION3D.bones
    root = MSR_ACTION3D.root
    assert torch.equal(train.inputs[:, 0, root], torch.zeros(284, 3))  # centred on the first frame's hip centre
    assert 1.0 < float(train.inputs.abs().max()) < 3.0  # metres
    assert (train.inputs.abs().flatten(2).amax(2) > 0).all()  # all-zero frames were dropped before resampling


@needs_utk
def test_utkinect_cross_subject_split() -> None:
    train = load_dataset("utkinect", split="train")
    test = load_dataset("utkinect", split="test")
    assert (len(train), len(test)) == (100, 99)  # 199 segments, the NaN carry of s10_e02 dropped
    assert train.inputs.shape == (100, 32, 20, 3) and train.num_classes == 10
    assert torch.bincount(test.labels).tolist() == [10, 10, 10, 10, 9, 10, 10, 10, 10, 10]
    assert train.bones == KINECT_V1.bones
    assert torch.equal(train.inputs[:, 0, KINECT_V1.root], torch.zeros(100, 3))
    corrected = load_dataset("utkinect", split="test", labels="vemulapalli")
    assert len(corrected) == 99 and not torch.equal(corrected.inputs, test.inputs)


# -- fake files -----------------------------------------------------------------------------------


def _sequence(frames: int, offset: float = 0.0) -> np.ndarray:
    """``(frames, 20, 4)``: joint j at x = j / 10 + frame, y = offset, z = 2, confidence 1."""
    values = np.zeros((frames, 20, 4))
    values[..., 0] = np.arange(20)[None, :] / 10 + np.arange(frames)[:, None]
    values[..., 1] = offset
    values[..., 2] = 2.0
    values[..., 3] = 1.0
    return values


def _text(values: np.ndarray) -> bytes:
    return "".join(" ".join(f"{v:.6f}" for v in row) + "\n" for row in values.reshape(-1, values.shape[-1])).encode()


def _tar(path: Path, members: dict[str, bytes], links: tuple[str, ...] = ()) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        for name in links:
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            tar.addfile(info)


def _msr_folder(tmp_path: Path, sequences: dict[str, bytes], listed: list[str] | None = None,
                prefix: str = "MSRAction3DSkeletonReal3D/", links: tuple[str, ...] = ()) -> Path:
    folder = tmp_path / "msr_action3d"
    folder.mkdir()
    members = {f"{prefix}{name}_skeleton3D.txt": content for name, content in sequences.items()}
    _tar(folder / "MSRAction3DSkeletonReal3D.tar.gz", members, links)
    (folder / "files_used_in_cvpr12_paper.txt").write_text("\n".join(listed if listed is not None else sequences) + "\n")
    sums = "".join(f"{hashlib.sha256(c).hexdigest()}  {Path(n).name}\n" for n, c in members.items())
    (folder / "SHA256SUMS").write_text(sums)
    return folder


def _sub(tmp_path: Path, name: str) -> Path:
    """A fresh sub-folder, so one test can build several fake data folders."""
    folder = tmp_path / name
    folder.mkdir()
    return folder


def _trust(monkeypatch: pytest.MonkeyPatch, folder: Path, *names: str) -> None:
    """Make the fake files' hashes the known ones, so ``verify=True`` reaches the member checks."""
    for name in names:
        key = f"{folder.name}/{name}" if name == "SHA256SUMS" else name
        monkeypatch.setitem(skeletons._SHA256, key, (hashlib.sha256((folder / name).read_bytes()).hexdigest(),))


def test_fake_msr_is_resampled_and_centred(tmp_path: Path) -> None:
    folder = _msr_folder(tmp_path, {"a01_s01_e01": _text(_sequence(5)), "a02_s02_e01": _text(_sequence(3)),
                                    "a03_s03_e02": _text(_sequence(1, offset=0.5))})
    train = load_dataset("msr_action3d", root=folder, split="train", verify=False, frames=9)
    assert train.inputs.shape == (2, 9, 20, 3) and train.labels.tolist() == [0, 2]
    root = MSR_ACTION3D.root
    # x = j / 10 + frame, resampled from 5 frames to 9: frame i at time i / 2, centred on joint 6 of frame 0
    expected = np.arange(20)[None, :] / 10 + np.arange(9)[:, None] / 2 - root / 10
    assert np.allclose(train.inputs[0, :, :, 0].numpy(), expected, atol=1e-6)
    assert torch.equal(train.inputs[1], torch.zeros(9, 20, 3) + train.inputs[1, :1])  # one frame, repeated
    test = load_dataset("msr_action3d", root=folder, split="test", verify=False)
    assert test.labels.tolist() == [1] and test.inputs.shape == (1, 32, 20, 3)


def test_fake_msr_drops_all_zero_frames(tmp_path: Path) -> None:
    values = _sequence(4)
    values[1, :, :3] = 0.0  # a tracking failure
    folder = _msr_folder(tmp_path, {"a01_s01_e01": _text(values)})
    kept = load_dataset("msr_action3d", root=folder, verify=False, frames=3).inputs[0, :, 0, 0]
    # joint 0 has x = frame: frames 0, 2, 3 kept, centred on the hip centre (x = 0.6) of frame 0
    assert torch.allclose(kept, torch.tensor([0.0, 2.0, 3.0]) - 0.6)
    lost = _msr_folder(_sub(tmp_path, "b"),
                       {"a01_s01_e01": _text(np.zeros((3, 20, 4)))})
    with pytest.raises(DataError, match="no tracked frame"):
        load_dataset("msr_action3d", root=lost, verify=False)


def test_verify_checks_files_and_members(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _msr_folder(tmp_path, {"a01_s01_e01": _text(_sequence(4))})
    with pytest.raises(DataError, match="SHA-256"):
        load_dataset("msr_action3d", root=folder)  # the fake list's hash is not the real one
    _trust(monkeypatch, folder, "files_used_in_cvpr12_paper.txt", "MSRAction3DSkeletonReal3D.tar.gz", "SHA256SUMS")
    assert len(load_dataset("msr_action3d", root=folder)) == 1
    (folder / "SHA256SUMS").write_text(f"{'0' * 64}  a01_s01_e01_skeleton3D.txt\n")
    _trust(monkeypatch, folder, "SHA256SUMS")
    with pytest.raises(DataError, match="a01_s01_e01_skeleton3D.txt does not match its SHA-256"):
        load_dataset("msr_action3d", root=folder)
    (folder / "SHA256SUMS").write_text(f"{'0' * 64}  other.txt\n")
    _trust(monkeypatch, folder, "SHA256SUMS")
    with pytest.raises(DataError, match="not listed in SHA256SUMS"):
        load_dataset("msr_action3d", root=folder)
    (folder / "SHA256SUMS").write_text("not a sums line\n")
    _trust(monkeypatch, folder, "SHA256SUMS")
    with pytest.raises(DataError, match="line 1: expected '<sha256>  <file name>'"):
        load_dataset("msr_action3d", root=folder)


@pytest.mark.parametrize(
    "sequences, listed, message",
    [
        ({"a01_s01_e01": _text(_sequence(2))}, ["a01_s01_e02"], "has no member a01_s01_e02_skeleton3D.txt"),
        ({"a01_s01_e01": _text(_sequence(2))[:-20]}, None, "not a positive multiple of 4"),
        ({"a01_s01_e01": _text(_sequence(2)[:, :19])}, None, "38 joint lines is not a multiple of 20"),
        ({"a01_s01_e01": _text(_sequence(2)).replace(b"1.000000", b"x", 1)}, None, "'x' is not a number"),
        ({"a01_s01_e01": _text(_sequence(2)).replace(b"1.000000", b"nan", 1)}, None, "NaN"),
        ({"a01_s01_e01": _text(_sequence(2))}, ["a21_s01_e01"], "a01..a20"),
        ({"a01_s01_e01": _text(_sequence(2))}, ["walk"], "'walk' is not a sequence name"),
        ({"a01_s02_e01": _text(_sequence(2))}, None, "no sequence of the train subjects"),
    ],
)
def test_broken_msr_files_fail_in_one_line(tmp_path: Path, sequences, listed, message) -> None:
    folder = _msr_folder(tmp_path, sequences, listed)
    with pytest.raises(DataError, match=message) as info:
        load_dataset("msr_action3d", root=folder, verify=False)
    assert "\n" not in str(info.value)


def test_unsafe_archives_are_refused(tmp_path: Path) -> None:
    sequence = {"a01_s01_e01": _text(_sequence(2))}
    traversal = _msr_folder(_sub(tmp_path, "x"), sequence, prefix="../../")
    with pytest.raises(DataError, match="unsafe path"):
        load_dataset("msr_action3d", root=traversal, verify=False)
    linked = _msr_folder(_sub(tmp_path, "y"), sequence,
                         links=("MSRAction3DSkeletonReal3D/a02_s01_e01_skeleton3D.txt",))
    with pytest.raises(DataError, match="link or special file"):
        load_dataset("msr_action3d", root=linked, verify=False)
    truncated = _msr_folder(_sub(tmp_path, "z"), sequence)
    archive = truncated / "MSRAction3DSkeletonReal3D.tar.gz"
    archive.write_bytes(archive.read_bytes()[:60])
    with pytest.raises(DataError, match="corrupt or truncated"):
        load_dataset("msr_action3d", root=truncated, verify=False)


def test_bad_options_and_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="split='val'"):
        load_dataset("msr_action3d", split="val")
    with pytest.raises(ConfigError, match="frames=1"):
        load_dataset("utkinect", frames=1)
    with pytest.raises(ConfigError, match="labels='fixed'"):
        load_dataset("utkinect", labels="fixed")
    with pytest.raises(DataError, match="does not exist"):
        load_dataset("msr_action3d", root=tmp_path / "nowhere")
    with pytest.raises(DataError, match="missing .*files_used_in_cvpr12_paper.txt"):
        load_dataset("msr_action3d", root=tmp_path)
    monkeypatch.delenv("AUGBENCH_DATA")
    with pytest.raises(ConfigError, match="AUGBENCH_DATA"):
        load_dataset("utkinect")


# -- fake UTKinect --------------------------------------------------------------------------------


def _stream(first: int, count: int) -> bytes:
    """``count`` rows: frame id (step 2 from ``first``), then 20 joints; joint j at x = j + row."""
    rows = np.zeros((count, 61))
    rows[:, 0] = first + 2 * np.arange(count)
    coordinates = rows[:, 1:].reshape(count, 20, 3)
    coordinates[..., 0] = np.arange(20)[None, :] + np.arange(count)[:, None]
    coordinates[..., 2] = 2.0
    return "".join(" ".join(f"{v:g}" for v in row) + "\n" for row in rows).encode()


def _utk_folder(tmp_path: Path, labels: str, streams: dict[str, bytes] | None = None) -> Path:
    folder = tmp_path / "utkinect_action3d"
    folder.mkdir()
    streams = streams if streams is not None else {"s01_e01": _stream(10, 10), "s02_e01": _stream(10, 10)}
    _tar(folder / "joints.tar.gz", {f"joints/joints_{name}.txt": content for name, content in streams.items()})
    (folder / "actionLabel.txt").write_text(labels)
    return folder


def test_fake_utkinect_segments(tmp_path: Path) -> None:
    labels = "s01_e01\nwalk: 10 14\ncarry: NaN NaN\nclapHands: 20 28 \ns02_e01\npush: 12 12\n"
    folder = _utk_folder(tmp_path, labels)
    train = load_dataset("utkinect", root=folder, verify=False, frames=3)
    assert train.labels.tolist() == [0, 9] and train.inputs.shape == (2, 3, 20, 3)
    # walk: frame ids 10, 12, 14 = rows 0..2; x of joint j at row r is j + r, centred on joint 0 of row 0
    assert torch.allclose(train.inputs[0, :, 5, 0], torch.tensor([5.0, 6.0, 7.0]))
    test = load_dataset("utkinect", root=folder, split="test", verify=False)
    assert test.labels.tolist() == [6] and torch.equal(test.inputs[0], torch.zeros(32, 20, 3) + test.inputs[0, :1])


@pytest.mark.parametrize(
    "labels, message",
    [
        ("walk: 10 14\n", "expected 'sSS_eEE'"),
        ("s01_e01\nrun: 10 14\n", "unknown action 'run'"),
        ("s01_e01\nwalk: 14 10\n", "first <= last"),
        ("s01_e01\nwalk: 100 140\n", "no skeleton row"),
        ("s03_e01\nwalk: 10 14\n", "has no member joints_s03_e01.txt"),
        ("s01_e01\ncarry: NaN NaN\n", "no labelled segment"),
    ],
)
def test_broken_utkinect_labels_fail_in_one_line(tmp_path: Path, labels: str, message: str) -> None:
    with pytest.raises(DataError, match=message) as info:
        load_dataset("utkinect", root=_utk_folder(tmp_path, labels), verify=False)
    assert "\n" not in str(info.value)


def test_broken_utkinect_stream(tmp_path: Path) -> None:
    folder = _utk_folder(tmp_path, "s01_e01\nwalk: 10 14\n", {"s01_e01": _stream(10, 3)[:-4]})
    with pytest.raises(DataError, match="not a positive multiple of 61"):
        load_dataset("utkinect", root=folder, verify=False)
