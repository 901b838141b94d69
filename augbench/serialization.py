"""Serialisable pipelines: ``to_dict``/``from_dict`` and JSON/YAML files (safe loaders only).

Format (version 1)::

    {"__version__": 1,
     "transform": {"__class_fullname__": "Compose",
                   "transforms": [{"__class_fullname__": "RandomResizedCrop", "size": [24, 24], ...}, ...]}}

A transform is rebuilt through the registry of transform classes by its class name and its
constructor arguments, so a dict never names arbitrary code. Loading a file with an unknown
class, an unknown argument or a newer format version fails with one line naming it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from augbench.errors import ConfigError
from augbench.transforms.base import TRANSFORMS, Transform

__all__ = ["FORMAT_VERSION", "to_dict", "from_dict", "save", "load"]

FORMAT_VERSION = 1
CLASS_KEY = "__class_fullname__"


def _plain(value: Any) -> Any:
    """Tuples -> lists, recursively, so that dicts survive a JSON/YAML round trip unchanged."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def transform_to_dict(transform: Transform) -> dict[str, Any]:
    """The versionless dict of one transform (class name plus constructor arguments)."""
    config = {name: (transform_to_dict(v) if isinstance(v, Transform) else v) for name, v in transform.config().items()}
    if "transforms" in config:
        config["transforms"] = [transform_to_dict(child) for child in transform.config()["transforms"]]
    return {CLASS_KEY: type(transform).__name__, **_plain(config)}


def transform_from_dict(data: dict[str, Any]) -> Transform:
    """Rebuild one transform from :func:`transform_to_dict` output."""
    if not isinstance(data, dict) or CLASS_KEY not in data:
        raise ConfigError(f"a transform entry needs a {CLASS_KEY!r} key, got {str(data)[:80]}")
    kwargs = {k: v for k, v in data.items() if k != CLASS_KEY}
    if "transforms" in kwargs:
        kwargs["transforms"] = [transform_from_dict(child) for child in kwargs["transforms"]]
    for name, value in kwargs.items():
        if isinstance(value, dict) and CLASS_KEY in value:
            kwargs[name] = transform_from_dict(value)
    return TRANSFORMS.build(data[CLASS_KEY], **kwargs)


def to_dict(transform: Transform) -> dict[str, Any]:
    """A JSON/YAML-ready dict of ``transform`` with the format version."""
    return {"__version__": FORMAT_VERSION, "transform": transform_to_dict(transform)}


def from_dict(data: dict[str, Any]) -> Transform:
    """Rebuild a transform or pipeline from :func:`to_dict` output."""
    if not isinstance(data, dict) or "transform" not in data:
        raise ConfigError("a serialised pipeline is a dict with keys '__version__' and 'transform'")
    version = data.get("__version__")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise ConfigError(
            f"serialised pipeline has format version {version!r}; this augbench reads versions 1 to {FORMAT_VERSION}"
        )
    try:
        return transform_from_dict(data["transform"])
    except TypeError as error:
        raise ConfigError(f"cannot rebuild the pipeline: {error}") from None


def save(transform: Transform, path: str | Path) -> None:
    """Write ``transform`` to ``path`` as JSON (``.json``) or YAML (``.yaml``/``.yml``)."""
    path = Path(path)
    data = to_dict(transform)
    if path.suffix in (".yaml", ".yml"):
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    elif path.suffix == ".json":
        path.write_text(json.dumps(data, indent=2))
    else:
        raise ConfigError(f"{path}: unknown pipeline file type {path.suffix!r}; use .json, .yaml or .yml")


def load(path: str | Path) -> Transform:
    """Read a pipeline written by :func:`save`. YAML is parsed with ``yaml.safe_load`` only."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read pipeline file ({error.strerror})") from None
    try:
        data = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)
    except (ValueError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: not a valid pipeline file ({str(error).splitlines()[0]})") from None
    return from_dict(data)
