"""File helpers shared by the dataset readers: data-folder lookup, reading, SHA-256 checks.

Modality-neutral on purpose: image, time-series, audio and text readers all locate their files
with :func:`resolve_root` / :func:`find_file`, read them with :func:`read_file` and check them
with :func:`verify_sha256`. augbench never downloads anything.

Data folder: a loader's ``root`` option names the folder that holds the dataset's files. When
it is left out, the folder is ``$AUGBENCH_DATA/<subdir>`` (``subdir`` is the dataset's folder
name, e.g. ``mnist``), so ``AUGBENCH_DATA=/work/shared/data`` serves every bundled dataset.

Checksum policy: a file whose name has a known SHA-256 (from ``shared/data/README.md``) must
match it, either as stored or, for gzip files, after decompression (other copies may have been
recompressed); files with no known hash get only the reader's structural checks. A file that
passed is remembered by (path, inode, size, mtime) for the life of the process, so loading it
again skips the hashing.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from augbench.errors import ConfigError, DataError

__all__ = ["DATA_ENV_VAR", "FileBytes", "resolve_root", "find_file", "read_file", "verify_sha256"]

DATA_ENV_VAR = "AUGBENCH_DATA"
_GZIP_MAGIC = b"\x1f\x8b"

# Files that matched a known hash, by their stamp: (resolved path, inode, size, mtime in ns).
_VERIFIED: set[tuple[str, int, int, int]] = set()


@dataclass(frozen=True)
class FileBytes:
    """The bytes of one data file.

    Attributes:
        path: where it was read from.
        stored: the bytes as stored on disk.
        content: ``stored`` decompressed when it is gzip data, else ``stored`` itself.
        stamp: (resolved path, inode, size, mtime in ns) at the time of reading.
    """

    path: Path
    stored: bytes
    content: bytes
    stamp: tuple[str, int, int, int]


def resolve_root(dataset: str, root: str | os.PathLike[str] | None, subdir: str) -> Path:
    """The data folder of ``dataset``: ``root`` if given, else ``$AUGBENCH_DATA/<subdir>``.

    Raises:
        ConfigError: ``root`` is None and ``AUGBENCH_DATA`` is unset or empty.
        DataError: the folder does not exist.
    """
    if root is None:
        base = os.environ.get(DATA_ENV_VAR)
        if not base:
            raise ConfigError(
                f"{dataset}: no data folder given; pass root='/path/to/{subdir}' or set "
                f"{DATA_ENV_VAR} to a folder that holds {subdir}/ (augbench never downloads)"
            )
        folder = Path(base).expanduser() / subdir
    else:
        folder = Path(root).expanduser()
    if not folder.is_dir():
        raise DataError(f"{dataset}: data folder {folder} does not exist or is not a folder")
    return folder


def find_file(dataset: str, folder: Path, names: Sequence[str], what: str, subdir: str | None = None) -> Path:
    """The first of ``names`` that exists in ``folder``.

    Args:
        dataset: dataset name, for the message.
        folder: the data folder.
        names: accepted file names, in order of preference.
        what: what the file holds, e.g. ``"IDX images"``.
        subdir: the dataset's usual folder name; if ``folder/subdir`` exists the message
            suggests it as ``root``.

    Raises:
        DataError: none of ``names`` exists.
    """
    for name in names:
        path = folder / name
        if path.is_file():
            return path
    hint = ""
    if subdir is not None and (folder / subdir).is_dir():
        hint = f"; did you mean root='{folder / subdir}'?"
    raise DataError(
        f"{dataset}: missing {folder / names[0]} ({what}); expected one of {', '.join(names)} in {folder}{hint}"
    )


def read_file(dataset: str, path: Path) -> FileBytes:
    """Read ``path``, decompressing it when it holds gzip data (detected by its magic bytes).

    Raises:
        DataError: the file cannot be read or its gzip stream is corrupt or truncated.
    """
    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            stored = handle.read()
    except OSError as exc:
        raise DataError(f"{dataset}: cannot read {path}: {exc.strerror or exc}") from None
    content = stored
    if stored[:2] == _GZIP_MAGIC:
        try:
            content = gzip.decompress(stored)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(
                f"{dataset}: {path}: corrupt or truncated gzip data ({exc}); copy the file again"
            ) from None
    stamp = (str(path.resolve()), info.st_ino, info.st_size, info.st_mtime_ns)
    return FileBytes(path, stored, content, stamp)


def verify_sha256(dataset: str, data: FileBytes, known: Collection[str]) -> None:
    """Check that ``data`` hashes to one of ``known`` (hex SHA-256), as stored or decompressed.

    Does nothing when ``known`` is empty or the same file (same stamp) already passed in this
    process.

    Raises:
        DataError: neither the stored nor the decompressed bytes match.
    """
    if not known or data.stamp in _VERIFIED:
        return
    digests = [hashlib.sha256(data.stored).hexdigest()]
    if digests[0] not in known and data.content is not data.stored:
        digests.append(hashlib.sha256(data.content).hexdigest())
    if digests[-1] not in known:
        raise DataError(
            f"{dataset}: {data.path}: SHA-256 {' / '.join(digests)} matches none of the known hashes "
            f"({', '.join(sorted(known))}); the file is corrupt or another version: replace it, or pass "
            "verify=False to skip the check"
        )
    _VERIFIED.add(data.stamp)
