"""Skeleton action datasets: MSR Action3D and UTKinect-Action3D from their original text files.

Both are read from a tar.gz of the original files, in memory: members are read with
``tarfile``'s ``extractfile`` (never extracted to disk), only regular files whose base name
matches the dataset's file pattern are read, and absolute names, ``..`` components and links
are refused. With ``verify`` (the default), every file is checked against the SHA-256 of
``shared/data/README.md`` and every archive member against the folder's ``SHA256SUMS``.

Preprocessing, the same for both (and for train and test):

1. frames whose 20 joints are all ``(0, 0, 0)`` are dropped (tracking failures: 1,113 frames of
   MSR Action3D, 252 of them in 13 of the 557 standard sequences, all a13 bend or a20 pick up
   and throw, all of test subjects);
2. each sequence is resampled to ``frames`` frames (default 32) by linear interpolation over
   the frame index: output frame ``i`` is the input at ``i * (F - 1) / (frames - 1)``; a
   one-frame sequence is repeated;
3. each sequence is centred on its root joint, the **hip centre of its first frame** (so the
   body's path through the scene is kept); coordinates stay in metres (x horizontal, y up,
   z depth).

The result is ``(N, frames, 20, 3)`` float32 in the ``skeleton`` modality, with the dataset's
bones in ``Dataset.bones`` (0-based).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

import numpy as np
import torch

from augbench.data.base import DATASETS, Dataset
from augbench.data.files import FileBytes, find_file, read_file, resolve_root, verify_sha256
from augbench.errors import ConfigError, DataError
from augbench.functional.skeleton import KINECT_V1, MSR_ACTION3D, JointLayout

__all__ = ["MSR_ACTIONS", "UTKINECT_ACTIONS", "load_msr_action3d", "load_utkinect", "resample_frames"]

_JOINTS = 20
_SPLITS = ("train", "test")

MSR_ACTIONS = (
    "high arm wave", "horizontal arm wave", "hammer", "hand catch", "forward punch", "high throw", "draw x",
    "draw tick", "draw circle", "hand clap", "two hand wave", "side-boxing", "bend", "forward kick", "side kick",
    "jogging", "tennis swing", "tennis serve", "golf swing", "pick up & throw",
)
"""The 20 actions of MSR Action3D, a01 to a20 (class ``i`` is action ``a{i + 1:02d}``)."""

UTKINECT_ACTIONS = (
    "walk", "sitDown", "standUp", "pickUp", "carry", "throw", "push", "pull", "waveHands", "clapHands",
)
"""The 10 actions of UTKinect-Action3D, in the order of ``actionLabel.txt``."""

_MSR_DIR = "msr_action3d"
_MSR_ARCHIVE = "MSRAction3DSkeletonReal3D.tar.gz"
_MSR_LIST = "files_used_in_cvpr12_paper.txt"
_MSR_MEMBER = re.compile(r"(a\d\d_s\d\d_e\d\d)_skeleton3D\.txt")
_UTK_DIR = "utkinect_action3d"
_UTK_ARCHIVE = "joints.tar.gz"
_UTK_LABELS = {"original": "actionLabel.txt", "vemulapalli": "actionLabel_modified_vemulapalli.txt"}
_UTK_MEMBER = re.compile(r"joints_(s\d\d_e\d\d)\.txt")
_SUMS = "SHA256SUMS"

# SHA-256 of the files in shared/data (see its README), by file name.
_SHA256: dict[str, tuple[str, ...]] = {
    _MSR_ARCHIVE: ("586c329c804ec96899bee269d5137d13f5ec6fe2f5ad2e047ab98b31599f043c",),
    _MSR_LIST: ("36a567fef872e0b28df3ec5680f40c48a8e0bac9033be293bd8784ddd8d53ada",),
    f"{_MSR_DIR}/{_SUMS}": ("bf9c8199f4d6eea901ec8fb7d7df725af96da49092fa14b26071c1f6dedb1893",),
    _UTK_ARCHIVE: ("3c24f20f0ff553363cc978a74607689357903d0c2f8a0563e55cdc45e396754f",),
    "actionLabel.txt": ("84800323d594837a1a17a8c9ea4c2da340c97996936f133032018a3e0371e273",),
    "actionLabel_modified_vemulapalli.txt": ("41def25e61f5bdadc5bec675e3474c51bff571a406cac8cd46876f07f2a6e38a",),
    f"{_UTK_DIR}/{_SUMS}": ("1f452c891a433442c3ab5dab0fe51b12a1472fc8f0427838ae47ca8eee81220f",),
}


# -- files and archives ---------------------------------------------------------------------------


def _read(dataset: str, folder: Path, name: str, what: str, verify: bool, known: str | None = None) -> FileBytes:
    """Find, read and (if ``verify``) hash-check ``folder/name``."""
    data = read_file(dataset, find_file(dataset, folder, (name,), what))
    if verify:
        verify_sha256(dataset, data, _SHA256.get(known or name, ()))
    return data


def _text(dataset: str, path: object, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{dataset}: {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _member_sums(dataset: str, folder: Path, subdir: str, verify: bool) -> dict[str, str] | None:
    """The ``SHA256SUMS`` of the archive members (base name -> hex digest), or ``None`` without ``verify``."""
    if not verify:
        return None
    data = _read(dataset, folder, _SUMS, "SHA-256 of the archive members", verify, f"{subdir}/{_SUMS}")
    sums: dict[str, str] = {}
    for number, line in enumerate(_text(dataset, data.path, data.content).splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not re.fullmatch(r"[0-9a-f]{64}", parts[0]):
            raise DataError(f"{dataset}: {data.path} line {number}: expected '<sha256>  <file name>', got {line.strip()!r}")
        sums[parts[1].lstrip("*")] = parts[0]
    return sums


def _archive_members(
    dataset: str, archive: FileBytes, pattern: re.Pattern[str], sums: dict[str, str] | None
) -> dict[str, bytes]:
    """The regular members of a tar archive whose base name matches ``pattern``, by the
    pattern's first group, read in memory; each checked against ``sums`` when given."""
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(archive.content), mode="r:") as tar:
            for member in tar:
                path = PurePosixPath(member.name)
                if path.is_absolute() or ".." in path.parts:
                    raise DataError(f"{dataset}: {archive.path}: member {member.name!r} has an unsafe path; refusing the archive")
                found = pattern.fullmatch(path.name)
                if found is None or member.isdir():
                    continue
                if not member.isfile():
                    raise DataError(f"{dataset}: {archive.path}: member {member.name!r} is a link or special file; "
                                    "the archive must hold plain files")
                handle = tar.extractfile(member)
                content = handle.read() if handle is not None else b""
                if sums is not None:
                    expected = sums.get(path.name)
                    if expected is None:
                        raise DataError(f"{dataset}: {archive.path}: member {path.name} is not listed in {_SUMS}; "
                                        "replace the archive or pass verify=False")
                    if hashlib.sha256(content).hexdigest() != expected:
                        raise DataError(f"{dataset}: {archive.path}: member {path.name} does not match its SHA-256 in "
                                        f"{_SUMS}; the archive is corrupt: copy it again")
                members[found.group(1)] = content
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DataError(f"{dataset}: {archive.path}: corrupt or truncated tar archive ({exc}); copy it again") from None
    return members


def _numbers(dataset: str, where: str, text: str, columns: int) -> np.ndarray:
    """Whitespace-separated numbers as a ``(rows, columns)`` float64 array; one line on bad input."""
    tokens = text.split()
    try:
        values = np.array(tokens, dtype=np.float64)
    except ValueError:
        bad = next(t for t in tokens if not _is_number(t))
        raise DataError(f"{dataset}: {where}: {bad!r} is not a number; rows hold whitespace-separated numbers") from None
    if not values.size or values.size % columns:
        raise DataError(
            f"{dataset}: {where}: {values.size} numbers is not a positive multiple of {columns}; the file is truncated"
        )
    if not np.isfinite(values).all():
        raise DataError(f"{dataset}: {where}: holds NaN or infinite coordinates; clean the file first")
    return values.reshape(-1, columns)


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


# -- preprocessing --------------------------------------------------------------------------------


def resample_frames(sequence: np.ndarray, frames: int) -> np.ndarray:
    """Resample a ``(F, J, 3)`` sequence to ``(frames, J, 3)`` by linear interpolation over the
    frame index (output frame ``i`` at input time ``i * (F - 1) / (frames - 1)``); float32."""
    count = sequence.shape[0]
    if count == 1:
        return np.repeat(sequence, frames, axis=0).astype(np.float32)
    position = np.linspace(0.0, count - 1, frames)
    low = np.minimum(np.floor(position).astype(np.int64), count - 2)
    weight = (position - low)[:, None, None]
    return ((1.0 - weight) * sequence[low] + weight * sequence[low + 1]).astype(np.float32)


def _prepare(dataset: str, name: str, sequence: np.ndarray, frames: int, layout: JointLayout) -> np.ndarray:
    """Drop all-zero frames, resample to ``frames``, centre on the first frame's root joint."""
    tracked = sequence[np.abs(sequence).reshape(len(sequence), -1).max(1) > 0]
    if not len(tracked):
        raise DataError(f"{dataset}: sequence {name} has no tracked frame (every joint is 0); drop it from the list")
    resampled = resample_frames(tracked, frames)
    return resampled - resampled[0, layout.root]


def _check_options(dataset: str, split: str, frames: int) -> None:
    if split not in _SPLITS:
        raise ConfigError(f"{dataset}: split={split!r} is not one of 'train', 'test'")
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < 2:
        raise ConfigError(f"{dataset}: frames={frames!r} must be a whole number >= 2 (the resampled length)")


def _check_found(dataset: str, split: str, inputs: list[np.ndarray], source: Path) -> None:
    if not inputs:
        raise DataError(f"{dataset}: {source} names no sequence of the {split} subjects (odd train, even test)")


def _in_split(subject: int, split: str) -> bool:
    """Cross-subject protocol: odd subjects train, even subjects test."""
    return (subject % 2 == 1) == (split == "train")


# -- MSR Action3D ---------------------------------------------------------------------------------


@DATASETS.register("msr_action3d")
def load_msr_action3d(
    root: str | os.PathLike[str] | None = None,
    split: Literal["train", "test"] = "train",
    verify: bool = True,
    frames: int = 32,
) -> Dataset:
    """MSR Action3D skeletons (Li, Zhang and Liu, CVPR Workshops 2010): 20 actions, 10 subjects.

    The standard protocol: the 557 sequences of ``files_used_in_cvpr12_paper.txt`` (Wang et al.,
    CVPR 2012), all 20 actions, cross-subject split (subjects 1, 3, 5, 7, 9 train: 284
    sequences; 2, 4, 6, 8, 10 test: 273). Each text line of a sequence file is one joint
    ``x y z confidence``, 20 lines per frame; the confidence column is dropped. Preprocessing
    (all-zero frames dropped, resampled to ``frames``, centred on the first frame's hip centre):
    see :mod:`augbench.data.skeletons`. Joint order and left/right sides:
    :data:`augbench.functional.skeleton.MSR_ACTION3D`.

    Args:
        root: the folder holding ``MSRAction3DSkeletonReal3D.tar.gz``,
            ``files_used_in_cvpr12_paper.txt`` and ``SHA256SUMS``; default ``$AUGBENCH_DATA/msr_action3d``.
        split: ``"train"`` or ``"test"``.
        verify: check the SHA-256 of the three files and of every archive member.
        frames: the resampled length ``T``, >= 2.

    Returns:
        ``(N, frames, 20, 3)`` float32 joints in metres, ``(N,)`` int64 labels (action - 1),
        the 20 action names, the bones of ``drawskt.m``.

    Raises:
        ConfigError: unknown ``split``, bad ``frames``, or no ``root`` and no ``AUGBENCH_DATA``.
        DataError: a missing, corrupt or malformed file (one line naming it).
    """
    dataset = "msr_action3d"
    _check_options(dataset, split, frames)
    folder = resolve_root(dataset, root, _MSR_DIR)
    listed = _read(dataset, folder, _MSR_LIST, "the 557 standard sequence names", verify)
    names = _text(dataset, listed.path, listed.content).split()
    bad = next((name for name in names if not re.fullmatch(r"a\d\d_s\d\d_e\d\d", name)), None)
    if bad is not None or not names:
        raise DataError(f"{dataset}: {listed.path}: {bad!r} is not a sequence name like a01_s01_e01")
    archive = _read(dataset, folder, _MSR_ARCHIVE, "the skeleton files", verify)
    members = _archive_members(dataset, archive, _MSR_MEMBER, _member_sums(dataset, folder, _MSR_DIR, verify))
    inputs, labels = [], []
    for name in names:
        action, subject = int(name[1:3]), int(name[5:7])
        if not _in_split(subject, split):
            continue
        if not 1 <= action <= len(MSR_ACTIONS):
            raise DataError(f"{dataset}: {listed.path}: {name} names action {action}; MSR Action3D has a01..a20")
        if name not in members:
            raise DataError(f"{dataset}: {archive.path} has no member {name}_skeleton3D.txt listed in {_MSR_LIST}")
        where = f"{archive.path}:{name}_skeleton3D.txt"
        rows = _numbers(dataset, where, _text(dataset, where, members[name]), 4)
        if len(rows) % _JOINTS:
            raise DataError(f"{dataset}: {where}: {len(rows)} joint lines is not a multiple of {_JOINTS}; the file is truncated")
        sequence = rows[:, :3].reshape(-1, _JOINTS, 3)
        inputs.append(_prepare(dataset, name, sequence, frames, MSR_ACTION3D))
        labels.append(action - 1)
    _check_found(dataset, split, inputs, listed.path)
    return Dataset(
        dataset, torch.from_numpy(np.stack(inputs)), torch.tensor(labels, dtype=torch.int64), MSR_ACTIONS,
        modality="skeleton", bones=MSR_ACTION3D.bones,
    )


# -- UTKinect-Action3D ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Segment:
    stream: str  # "sSS_eEE"
    action: int
    first: int  # frame ids, inclusive
    last: int


def _parse_labels(dataset: str, path: Path, text: str) -> list[_Segment]:
    """The labelled segments of ``actionLabel.txt``; ``NaN NaN`` ranges are dropped."""
    segments: list[_Segment] = []
    stream = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if re.fullmatch(r"s\d\d_e\d\d", line):
            stream = line
            continue
        where = f"{path} line {number}"
        parts = line.replace(":", " ").split()
        if stream is None or ":" not in line or len(parts) != 3:
            raise DataError(f"{dataset}: {where}: expected 'sSS_eEE' or '<action>: <first> <last>' after one, got {line!r}")
        action, first, last = parts
        if action not in UTKINECT_ACTIONS:
            raise DataError(f"{dataset}: {where}: unknown action {action!r}; UTKinect's are {', '.join(UTKINECT_ACTIONS)}")
        if first == "NaN" or last == "NaN":
            continue
        if not (first.isdigit() and last.isdigit()) or int(first) > int(last):
            raise DataError(f"{dataset}: {where}: frame range {first!r} {last!r} must be two frame ids, first <= last")
        segments.append(_Segment(stream, UTKINECT_ACTIONS.index(action), int(first), int(last)))
    if not segments:
        raise DataError(f"{dataset}: {path}: no labelled segment; the file is empty or truncated")
    return segments


@DATASETS.register("utkinect")
def load_utkinect(
    root: str | os.PathLike[str] | None = None,
    split: Literal["train", "test"] = "train",
    verify: bool = True,
    frames: int = 32,
    labels: Literal["original", "vemulapalli"] = "original",
) -> Dataset:
    """UTKinect-Action3D skeletons (Xia, Chen and Aggarwal, CVPR Workshops 2012): 10 actions.

    20 continuous Kinect v1 streams (10 subjects x 2); a label file gives each action's first and
    last frame id, 199 labelled segments (the carry of s10_e02 is ``NaN NaN`` and is dropped).
    Each row of a stream: the frame id, then 20 joints x (x, y, z) in metres; a segment is the
    rows whose frame id lies in its range, in file order (542 frame ids of the streams have two
    rows, both kept, as the dataset README's reading does). Cross-subject split: odd subjects
    train, even test. Preprocessing (resampled to ``frames``, centred on the first frame's hip
    centre): see :mod:`augbench.data.skeletons`. Joint order: Kinect SDK v1,
    :data:`augbench.functional.skeleton.KINECT_V1`.

    Args:
        root: the folder holding ``joints.tar.gz``, the label files and ``SHA256SUMS``; default
            ``$AUGBENCH_DATA/utkinect_action3d``.
        split: ``"train"`` or ``"test"``.
        verify: check the SHA-256 of the files and of every archive member.
        frames: the resampled length ``T``, >= 2.
        labels: ``"original"`` (``actionLabel.txt``) or ``"vemulapalli"`` (the corrected ranges
            shipped with Vemulapalli et al.'s CVPR 2014 code: 7 ranges differ).

    Returns:
        ``(N, frames, 20, 3)`` float32 joints, ``(N,)`` int64 labels, the 10 action names, the
        Kinect v1 bones.

    Raises:
        ConfigError: unknown ``split`` or ``labels``, bad ``frames``, or no data folder.
        DataError: a missing, corrupt or malformed file, or a segment with no skeleton row.
    """
    dataset = "utkinect"
    _check_options(dataset, split, frames)
    if labels not in _UTK_LABELS:
        raise ConfigError(f"{dataset}: labels={labels!r} is not one of {', '.join(map(repr, _UTK_LABELS))}")
    folder = resolve_root(dataset, root, _UTK_DIR)
    label_file = _read(dataset, folder, _UTK_LABELS[labels], "the action frame ranges", verify)
    segments = _parse_labels(dataset, label_file.path, _text(dataset, label_file.path, label_file.content))
    archive = _read(dataset, folder, _UTK_ARCHIVE, "the joint streams", verify)
    members = _archive_members(dataset, archive, _UTK_MEMBER, _member_sums(dataset, folder, _UTK_DIR, verify))
    streams: dict[str, np.ndarray] = {}
    inputs, targets = [], []
    for segment in segments:
        if not _in_split(int(segment.stream[1:3]), split):
            continue
        if segment.stream not in members:
            raise DataError(f"{dataset}: {archive.path} has no member joints_{segment.stream}.txt named in {label_file.path}")
        if segment.stream not in streams:
            where = f"{archive.path}:joints_{segment.stream}.txt"
            streams[segment.stream] = _numbers(dataset, where, _text(dataset, where, members[segment.stream]), 1 + 3 * _JOINTS)
        rows = streams[segment.stream]
        chosen = rows[(rows[:, 0] >= segment.first) & (rows[:, 0] <= segment.last), 1:]
        name = f"{segment.stream} {UTKINECT_ACTIONS[segment.action]} {segment.first}-{segment.last}"
        if not len(chosen):
            raise DataError(f"{dataset}: {label_file.path}: segment {name} has no skeleton row in its stream")
        inputs.append(_prepare(dataset, name, chosen.reshape(-1, _JOINTS, 3), frames, KINECT_V1))
        targets.append(segment.action)
    _check_found(dataset, split, inputs, label_file.path)
    return Dataset(
        dataset, torch.from_numpy(np.stack(inputs)), torch.tensor(targets, dtype=torch.int64), UTKINECT_ACTIONS,
        modality="skeleton", bones=KINECT_V1.bones,
    )
