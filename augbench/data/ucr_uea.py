"""Time-series classification problems of the UCR/UEA archive, from sktime/aeon ``.ts`` files.

The ``.ts`` text format: ``#`` comment lines, then ``@`` header lines (``@problemName``,
``@timeStamps false``, ``@missing``, ``@univariate``, ``@dimensions``, ``@equalLength``,
``@seriesLength``, ``@classLabel true <labels...>``), then ``@data`` and one case per line: the
dimensions (channels) separated by ``:``, the values of a dimension by ``,``, and the class label
after the last ``:``. Header keywords are case-insensitive, as in sktime and aeon.

Unequal lengths: every dimension of one case must have the same length, but cases may differ
(JapaneseVowels: 7-29 steps). Such series are zero-padded at the end to the longest series of
the problem over *both* its TRAIN and TEST files, so the two splits share one ``(C, L)`` shape;
sktime/aeon users usually pad or truncate likewise before a fixed-shape model. Padding counts in
per-channel statistics and in a model's global pooling like any other step. The time-series
transforms and mixers (``pad_value=0.0``, their default) recover each case's length as the steps
up to the last one at which some channel is non-zero (exact on JapaneseVowels, whose cases never
end on an all-zero step) and augment those steps only, leaving the padding at zero.

Missing values (``?`` or ``NaN``) are refused: the ``timeseries`` modality holds no NaN, so
impute first. Only ``@timeStamps false`` classification files are read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from augbench.data.base import DATASETS, Dataset
from augbench.data.files import find_file, read_file, resolve_root, verify_sha256
from augbench.errors import ConfigError, DataError

__all__ = [
    "TsFile",
    "parse_ts",
    "load_gunpoint",
    "load_arrowhead",
    "load_italy_power_demand",
    "load_basic_motions",
    "load_japanese_vowels",
]

_SUBDIR = "ucr_uea"
_SPLIT_SUFFIX = {"train": "TRAIN", "test": "TEST"}
_HEADER_KEYS = (
    "problemname", "timestamps", "missing", "univariate", "dimensions",
    "equallength", "serieslength", "classlabel", "data",
)
_BOOLEAN = {"true": True, "false": False}

# SHA-256 of the .ts files in shared/data/ucr_uea (see its README), by file name.
_SHA256: dict[str, tuple[str, ...]] = {
    "GunPoint_TRAIN.ts": ("f842401779fd9800d247d8b33121a1a4643710a19b24917dbdd9a060ca8630d5",),
    "GunPoint_TEST.ts": ("79332750788a6227b325b96bd0d70130c8eb707b9731f8d7dec62b7a7d36017e",),
    "ArrowHead_TRAIN.ts": ("a83c470aaf611a5f5284377cce27a5fc9f6292bc3d110257b0fd4905ced5ee72",),
    "ArrowHead_TEST.ts": ("5417dab42626d41df5e435bb22458c2df40dfad4bcd3b59559bbe72e20e84904",),
    "ItalyPowerDemand_TRAIN.ts": ("341269cb7e6cef96846b30e774580beec79addb93848ba360145219115a74b7c",),
    "ItalyPowerDemand_TEST.ts": ("26122451f87dd0387ef90b18bc8a86c041371b8a1c068004922b939971247144",),
    "BasicMotions_TRAIN.ts": ("8dc43cc6306cb679c888c01e26f91772ac4441a916da43bac8b79734a538b9d6",),
    "BasicMotions_TEST.ts": ("79213102bc6fca1a398ad98ce1185dff0208fa3d1465e687f48288946b0ff8dc",),
    "JapaneseVowels_TRAIN.ts": ("68a430eabd919cc77f40b1f5f3bc0dcafacc1486bca9260785aeb7d262cc78cd",),
    "JapaneseVowels_TEST.ts": ("b3d41d6a0ca3bcad3afb9ca7d4365382aa51341e2e58bae2a574babdda5b9462",),
}


@dataclass(frozen=True)
class TsFile:
    """The cases of one parsed ``.ts`` file, before padding.

    Attributes:
        problem_name: the ``@problemName`` of the header (``""`` when absent).
        class_names: the ``@classLabel`` labels in header order; label ``i`` is class index ``i``.
        series: one float32 ``(C, L_i)`` array per case, ``C`` the same for every case.
        labels: ``(N,)`` int64 class indices.
        equal_length: whether every case has the same length (as found, and as the header says).
    """

    problem_name: str
    class_names: tuple[str, ...]
    series: tuple[np.ndarray, ...]
    labels: np.ndarray
    equal_length: bool

    @property
    def max_length(self) -> int:
        """The length of the longest case."""
        return max(case.shape[1] for case in self.series)


def _flag(dataset: str, header: dict[str, tuple[str, list[str]]], key: str) -> bool | None:
    """The ``true``/``false`` value of header ``key`` (e.g. ``"equalLength"``), ``None`` when absent."""
    if key.lower() not in header:
        return None
    where, tokens = header[key.lower()]
    if len(tokens) != 1 or tokens[0].lower() not in _BOOLEAN:
        raise DataError(f"{dataset}: {where}: @{key} needs 'true' or 'false', got {' '.join(tokens)!r}")
    return _BOOLEAN[tokens[0].lower()]


def _count(dataset: str, header: dict[str, tuple[str, list[str]]], key: str) -> int | None:
    """The positive whole-number value of header ``key`` (e.g. ``"seriesLength"``), ``None`` when absent."""
    if key.lower() not in header:
        return None
    where, tokens = header[key.lower()]
    if len(tokens) != 1 or not tokens[0].isdigit() or int(tokens[0]) < 1:
        raise DataError(f"{dataset}: {where}: @{key} needs a positive whole number, got {' '.join(tokens)!r}")
    return int(tokens[0])


def _values(dataset: str, where: str, dimension: int, text: str) -> np.ndarray:
    """The comma-separated values of one dimension as float64; one line on any bad value."""
    tokens = text.split(",")
    for position, token in enumerate(tokens):
        if token.strip() == "?":
            raise DataError(
                f"{dataset}: {where}: missing value '?' in dimension {dimension} at position {position}; "
                "time series must be complete (no NaN): impute the missing values first"
            )
    try:
        values = np.array(tokens, dtype=np.float64)
    except ValueError:
        position, token = next(((i, t) for i, t in enumerate(tokens) if not _is_number(t)), (0, tokens[0]))
        raise DataError(
            f"{dataset}: {where}: value {token.strip()!r} in dimension {dimension} at position {position} is "
            "not a number; values are comma-separated and dimensions colon-separated"
        ) from None
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        position = int(bad[0])
        raise DataError(
            f"{dataset}: {where}: {tokens[position].strip()!r} in dimension {dimension} at position {position} is "
            "a missing or non-finite value; time series must be complete (no NaN): impute it first"
        )
    return values


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def parse_ts(dataset: str, path: os.PathLike[str] | str, text: str, problem: str | None = None) -> TsFile:
    """Parse the text of a sktime/aeon ``.ts`` classification file.

    Args:
        dataset: dataset name, for messages.
        path: the file, for messages.
        text: the whole file.
        problem: the expected ``@problemName`` (case-insensitive), or ``None`` to accept any.

    Returns:
        The header's problem name and class labels, and the cases, unpadded.

    Raises:
        DataError: in one line naming the file and line: a truncated or malformed header
            (no ``@data``, no ``@classLabel true``, time stamps, an unknown ``@`` key, another
            problem's name), a label not in the header, a missing or non-numeric value, or a
            case whose number of dimensions or values disagrees with the header or the other cases.
    """
    lines = text.splitlines()
    header: dict[str, tuple[str, list[str]]] = {}  # lower-case key -> ("<path> line <n>", tokens)
    data_start = None
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path} line {number}"
        if not line.startswith("@"):
            raise DataError(f"{dataset}: {where}: data before the @data line; the header must end with @data")
        key, *tokens = line[1:].split()
        key = key.lower()
        if key not in _HEADER_KEYS:
            raise DataError(
                f"{dataset}: {where}: unknown header key @{key}; known keys: "
                f"{', '.join('@' + name for name in _HEADER_KEYS)}"
            )
        if key in header:
            raise DataError(f"{dataset}: {where}: @{key} appears twice in the header; keep one")
        header[key] = (where, tokens)
        if key == "problemname" and problem is not None and " ".join(tokens).lower() != problem.lower():
            raise DataError(
                f"{dataset}: {where}: the header names problem {' '.join(tokens)!r}, expected {problem!r}; "
                "is the file in the right folder?"
            )
        if key == "data":
            data_start = number
            break
    end = f"{path} line {len(lines)}"
    if data_start is None:
        raise DataError(
            f"{dataset}: {end}: the header ends without an @data line; the file is truncated: copy it again"
        )
    if "classlabel" not in header:
        raise DataError(
            f"{dataset}: {header['data'][0]}: no '@classLabel true <labels...>' line before @data; add one"
        )
    where, labels_header = header["classlabel"]
    if not labels_header or labels_header[0].lower() != "true" or len(labels_header) < 2:
        raise DataError(
            f"{dataset}: {where}: the header needs '@classLabel true <labels...>' for classification, got "
            f"'@classLabel {' '.join(labels_header)}'"
        )
    class_names = tuple(labels_header[1:])
    if len(set(class_names)) != len(class_names):
        raise DataError(
            f"{dataset}: {where}: @classLabel lists a label twice ({' '.join(class_names)}); list each once"
        )
    if _flag(dataset, header, "timeStamps"):
        raise DataError(
            f"{dataset}: {header['timestamps'][0]}: '@timeStamps true' files are not supported; store plain values"
        )
    univariate = _flag(dataset, header, "univariate")
    dimensions = _count(dataset, header, "dimensions")
    if univariate and dimensions not in (None, 1):
        raise DataError(
            f"{dataset}: {header['dimensions'][0]}: '@univariate true' contradicts '@dimensions {dimensions}'; "
            "fix the header"
        )
    if univariate:
        dimensions = 1
    equal_header = _flag(dataset, header, "equalLength")
    length = _count(dataset, header, "seriesLength")
    index_of = {name: index for index, name in enumerate(class_names)}

    series: list[np.ndarray] = []
    labels: list[int] = []
    first_length = None
    for number in range(data_start + 1, len(lines) + 1):
        line = lines[number - 1].strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path} line {number}"
        *parts, label = line.split(":")
        if not parts:
            raise DataError(f"{dataset}: {where}: no ':' before a class label; a case is 'dim1:dim2:...:label'")
        if dimensions is None:
            dimensions = len(parts)
        if len(parts) != dimensions:
            raise DataError(
                f"{dataset}: {where}: {len(parts)} dimensions, expected {dimensions} (from the header or the "
                "first case); dimensions are separated by ':'"
            )
        label = label.strip()
        if label not in index_of:
            raise DataError(
                f"{dataset}: {where}: class label {label!r} is not in the header's @classLabel "
                f"({' '.join(class_names)}); fix the label or the header"
            )
        rows = [_values(dataset, where, dim, part) for dim, part in enumerate(parts)]
        counts = {len(row) for row in rows}
        if len(counts) != 1:
            raise DataError(
                f"{dataset}: {where}: dimensions have different numbers of values "
                f"({', '.join(str(len(row)) for row in rows)}); every dimension of a case needs the same length"
            )
        count = counts.pop()
        if length is not None and count != length:
            raise DataError(
                f"{dataset}: {where}: {count} values per dimension, but @seriesLength is {length}; fix the case or "
                "the header"
            )
        if first_length is None:
            first_length = count
        elif equal_header and count != first_length:
            raise DataError(
                f"{dataset}: {where}: {count} values per dimension, but the first case has {first_length} and "
                "the header says '@equalLength true'; fix the case, or set '@equalLength false'"
            )
        series.append(np.stack(rows).astype(np.float32))
        labels.append(index_of[label])
    if not series:
        raise DataError(f"{dataset}: {end}: no cases after @data; the file is truncated: copy it again")
    found_equal = len({case.shape[1] for case in series}) == 1
    problem_name = " ".join(header["problemname"][1]) if "problemname" in header else ""
    return TsFile(
        problem_name, class_names, tuple(series), np.array(labels, dtype=np.int64),
        found_equal and equal_header is not False,
    )


def _read_ts(dataset: str, folder: Path, problem: str, split: str, verify: bool) -> tuple[TsFile, Path]:
    """Find, read, hash-check (if ``verify``) and parse ``<problem>/<problem>_<SPLIT>.ts``."""
    name = f"{problem}_{_SPLIT_SUFFIX[split]}.ts"
    path = find_file(dataset, folder / problem, (name,), f"{problem} {split} split (.ts)", subdir=_SUBDIR)
    data = read_file(dataset, path)
    if verify:
        verify_sha256(dataset, data, _SHA256.get(name, ()))
    try:
        text = data.content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{dataset}: {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse_ts(dataset, path, text, problem), path


def _pad(series: tuple[np.ndarray, ...], length: int) -> np.ndarray:
    """Stack ``(C, L_i)`` cases into ``(N, C, length)`` float32, zero-padded at the end."""
    out = np.zeros((len(series), series[0].shape[0], length), dtype=np.float32)
    for index, case in enumerate(series):
        out[index, :, : case.shape[1]] = case
    return out


def _load_ucr_uea(
    dataset: str, problem: str, root: str | os.PathLike[str] | None, split: str, verify: bool
) -> Dataset:
    if split not in _SPLIT_SUFFIX:
        raise ConfigError(f"{dataset}: split={split!r} is not one of 'train', 'test'")
    folder = resolve_root(dataset, root, _SUBDIR)
    parsed, path = _read_ts(dataset, folder, problem, split, verify)
    length = parsed.max_length
    if not parsed.equal_length:
        other, other_path = _read_ts(dataset, folder, problem, "test" if split == "train" else "train", verify)
        if other.class_names != parsed.class_names or other.series[0].shape[0] != parsed.series[0].shape[0]:
            raise DataError(
                f"{dataset}: {path} and {other_path} disagree on the classes or the number of dimensions; "
                "both splits must come from the same problem"
            )
        length = max(length, other.max_length)
    return Dataset(
        dataset,
        torch.from_numpy(_pad(parsed.series, length)),
        torch.from_numpy(parsed.labels),
        parsed.class_names,
        modality="timeseries",
    )


@DATASETS.register("gunpoint")
def load_gunpoint(
    root: str | os.PathLike[str] | None = None,
    split: Literal["train", "test"] = "train",
    verify: bool = True,
) -> Dataset:
    """GunPoint (UCR, Dau et al. 2019): hand-motion trajectories, gun-draw vs point.

    Args:
        root: the ``ucr_uea`` folder holding ``GunPoint/GunPoint_{TRAIN,TEST}.ts``; default
            ``$AUGBENCH_DATA/ucr_uea``.
        split: ``"train"`` (50 cases) or ``"test"`` (150).
        verify: check the SHA-256 of files whose hash is known (see ``augbench.data.files``).

    Returns:
        ``(N, 1, 150)`` float32 series, ``(N,)`` int64 labels, 2 classes ``"1"``, ``"2"``.

    Raises:
        ConfigError: unknown ``split``, or no ``root`` and no ``AUGBENCH_DATA``.
        DataError: a missing or malformed file (one line naming the file and line).
    """
    return _load_ucr_uea("gunpoint", "GunPoint", root, split, verify)


@DATASETS.register("arrowhead")
def load_arrowhead(
    root: str | os.PathLike[str] | None = None,
    split: Literal["train", "test"] = "train",
    verify: bool = True,
) -> Dataset:
    """ArrowHead (UCR, Dau et al. 2019): outlines of arrowheads as 1-D series.

    Args:
        root: the ``ucr_uea`` folder holding ``ArrowHead/ArrowHead_{TRAIN,TEST}.ts``; default
            ``$AUGBENCH_DATA/ucr_uea``.
        split: ``"train"`` (36 cases) or ``"test"`` (175).
        verify: check the SHA-256 of files whose hash is known (see ``augbench.data.files``).

    Returns:
        ``(N, 1, 251)`` float32 series, ``(N,)`` int64 labels, 3 classes ``"0"``, ``"1"``, ``"2"``.

    Raises:
        ConfigError: unknown ``split``, or no ``root`` and no ``AUGBENCH_DATA``.
        DataError: a missing or malformed file (one line naming the file and line).
    """
    return _load_ucr_uea("arrowhead", "ArrowHead", root, split, verify)


@DATASETS.register("italy_power_demand")
def load_italy_power_demand(
    root: str | os.PathLike[str] | None = None,
    split: Literal["train", "test"] = "train",
    verify: bool = True,
) -> Dataset:
    """ItalyPowerDemand (UCR, Dau et al. 2019): 24 hourly power demands of a day, two seasons.

    Args:
        root: the ``ucr_uea`` folder holding ``ItalyPowerDemand/ItalyPowerDemand_{TRAIN,TEST}.ts``; default
            ``$AUGBENCH_DATA/ucr_uea``.
        split: ``"train"`` (67 cases) or ``"test"`` (1,029).
        verify: check the SHA-256 of files whose hash is known (see ``augbench.data.files``).

    Returns:
        ``(N, 1, 24)`` float32 series, ``(N,)`` int64 labels, 2 classes ``"1"``, ``"2"``.

    Raises:
        ConfigError: unknown ``split``, or no ``root`` and no ``AUGBENCH_DATA``.
        DataError: a missing or malformed file (one line naming the file and line).
    """
    return _load_ucr_uea("italy_power_demand", "ItalyPowerDemand", root, split, verify)


@DATASETS.register("basic_motions")
def load_basic_motions(
    root: str | os.PathLike[str] | None = None,
    split: Literal["train", "test"] = "train",
    verify: bool = True,
) -> Dataset:
    """BasicMotions (UEA, Bagnall et al. 2018): smart-watch accelerometer + gyroscope, 6 channels.

    Args:
        root: the ``ucr_uea`` folder holding ``BasicMotions/BasicMotions_{TRAIN,TEST}.ts``; default
            ``$AUGBENCH_DATA/ucr_uea``.
        split: ``"train"`` (40 cases) or ``"test"`` (40).
        verify: check the SHA-256 of files whose hash is known (see ``augbench.data.files``).

    Returns:
        ``(N, 6, 100)`` float32 series, ``(N,)`` int64 labels, 4 classes Standing, Running,
        Walking, Badminton.

    Raises:
        ConfigError: unknown ``split``, or no ``root`` and no ``AUGBENCH_DATA``.
        DataError: a missing or malformed file (one line naming the file and line).
    """
    return _load_ucr_uea("basic_motions", "BasicMotions", root, split, verify)


@DATASETS.register("japanese_vowels")
def load_japanese_vowels(
    root: str | os.PathLike[str] | None = None,
    split: Literal["train", "test"] = "train",
    verify: bool = True,
) -> Dataset:
    """JapaneseVowels (UEA, Bagnall et al. 2018): 12 LPC cepstra of a spoken vowel, 9 speakers.

    Unequal length (7-29 steps): each series is zero-padded at the end to the longest series of
    the train and test files together, so both splits are ``(N, 12, L)`` with the same ``L``.

    Args:
        root: the ``ucr_uea`` folder holding ``JapaneseVowels/JapaneseVowels_{TRAIN,TEST}.ts``; default
            ``$AUGBENCH_DATA/ucr_uea``.
        split: ``"train"`` (270 cases) or ``"test"`` (370).
        verify: check the SHA-256 of files whose hash is known (see ``augbench.data.files``).

    Returns:
        ``(N, 12, L)`` float32 series, ``(N,)`` int64 labels, 9 classes ``"1"``..``"9"``.

    Raises:
        ConfigError: unknown ``split``, or no ``root`` and no ``AUGBENCH_DATA``.
        DataError: a missing or malformed file (one line naming the file and line).
    """
    return _load_ucr_uea("japanese_vowels", "JapaneseVowels", root, split, verify)
