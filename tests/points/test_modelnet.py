"""The ModelNet10 loader: the official split, unit-sphere clouds, options, and broken files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from augbench.data import DATASETS, load_dataset
from augbench.data.modelnet import normalize_unit_sphere
from augbench.errors import AugbenchError, ConfigError, DataError

SHARED_DATA = Path(os.environ["AUGBENCH_DATA"])  # set by tests/conftest.py
FOLDER = SHARED_DATA / "modelnet10"
needs_data = pytest.mark.skipif(not (FOLDER / "test_points.npy").is_file(), reason=f"ModelNet10 not found at {FOLDER}")
CLASSES = ("bathtub", "bed", "chair", "desk", "dresser", "monitor", "night_stand", "sofa", "table", "toilet")


@needs_data
def test_official_split_counts_and_unit_sphere() -> None:
    assert "modelnet10" in DATASETS.names()
    test = load_dataset("modelnet10", split="test")
    assert test.inputs.shape == (908, 1024, 3) and test.inputs.dtype == torch.float32
    assert test.modality == "points" and test.class_names == CLASSES
    assert test.labels.bincount().tolist() == [50, 100, 100, 86, 86, 100, 86, 100, 100, 100]
    assert torch.allclose(test.inputs.mean(1), torch.zeros(908, 3), atol=1e-5)
    assert torch.allclose(test.inputs.norm(dim=-1).amax(1), torch.ones(908), atol=1e-5)
    train = load_dataset("modelnet10", split="train", num_points=128)
    assert train.inputs.shape == (3991, 128, 3)
    assert train.labels.bincount().tolist() == [106, 515, 889, 200, 200, 465, 200, 680, 392, 344]


@needs_data
def test_z_is_up() -> None:
    """Tables carry most of their points on the top: z is skewed towards +z, x and y are not."""
    test = load_dataset("modelnet10", split="test", num_points=256)
    tables = test.inputs[test.labels == CLASSES.index("table")].double()
    centred = tables - tables.mean(1, keepdim=True)
    skew = (centred.pow(3).mean(1) / centred.pow(2).mean(1).pow(1.5)).mean(0)
    assert skew[2] < -1.0 and skew[:2].abs().max() < 0.3


@needs_data
def test_point_subset_is_fixed_and_subset_is_stratified() -> None:
    a = load_dataset("modelnet10", split="test", num_points=64)
    b = load_dataset("modelnet10", split="test", num_points=64)
    assert torch.equal(a.inputs, b.inputs)
    small = load_dataset("modelnet10", split="test", subset=100)
    assert len(small) == 100 and small.labels.bincount().min() >= 5
    assert torch.equal(small.inputs, load_dataset("modelnet10", split="test", subset=100).inputs)


def test_unit_sphere_normalisation() -> None:
    clouds = np.random.default_rng(0).normal(size=(4, 50, 3)).astype(np.float32) * 1e4 + 3e4
    unit = normalize_unit_sphere(clouds)
    assert unit.dtype == np.float32
    assert np.allclose(unit.mean(1), 0, atol=1e-5) and np.allclose(np.linalg.norm(unit, axis=2).max(1), 1, atol=1e-6)


# -- broken files (fake data in tmp_path) ----------------------------------------------------------


def _fake_folder(tmp_path: Path, train: int = 12, test: int = 10) -> Path:
    rng = np.random.default_rng(0)
    (tmp_path / "shape_names.txt").write_text("\n".join(CLASSES) + "\n")
    for split, count, files in (("train", train, ("train_points_0.npy", "train_points_1.npy")), ("test", test, ("test_points.npy",))):
        points = rng.normal(size=(count, 1024, 3)).astype(np.float32)
        parts = np.array_split(points, len(files))
        for name, part in zip(files, parts):
            np.save(tmp_path / name, part)
        np.save(tmp_path / f"{split}_labels.npy", (np.arange(count) % 10).astype(np.uint8))
        (tmp_path / f"{split}_names.txt").write_text("\n".join(f"shape_{i:04d}" for i in range(count)) + "\n")
    return tmp_path


def test_fake_folder_loads_without_verification(tmp_path: Path) -> None:
    data = load_dataset("modelnet10", root=_fake_folder(tmp_path), split="train", verify=False)
    assert data.inputs.shape == (12, 1024, 3) and data.labels.tolist() == [i % 10 for i in range(12)]


def test_checksum_mismatch_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="test_points.npy: SHA-256") as info:
        load_dataset("modelnet10", root=_fake_folder(tmp_path), split="test")
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    folder = _fake_folder(tmp_path)
    (folder / "test_labels.npy").unlink()
    with pytest.raises(DataError, match="missing .*test_labels.npy"):
        load_dataset("modelnet10", root=folder, split="test", verify=False)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda f: (f / "test_points.npy").write_bytes(b"not an array"), "not a readable .npy"),
        (lambda f: np.save(f / "test_points.npy", np.zeros((10, 1024, 2), np.float32)), r"expected \(n, 1024, 3\) float32"),
        (lambda f: np.save(f / "test_points.npy", np.zeros((10, 1024, 3), np.float64)), "float32"),
        (lambda f: np.save(f / "test_points.npy", np.full((10, 1024, 3), np.nan, np.float32)), "NaN"),
        (lambda f: np.save(f / "test_labels.npy", np.zeros(9, np.uint8)), "10 clouds, 9 labels"),
        (lambda f: np.save(f / "test_labels.npy", np.full(10, 12, np.uint8)), "label 12"),
        (lambda f: np.save(f / "test_labels.npy", np.zeros(10, np.int64)), "uint8 labels"),
        (lambda f: np.save(f / "test_points.npy", np.array([object()] * 3)), "not a readable .npy"),
    ],
)
def test_broken_files_fail_in_one_line(tmp_path: Path, damage, message: str) -> None:
    folder = _fake_folder(tmp_path)
    damage(folder)
    with pytest.raises(DataError, match=message) as info:
        load_dataset("modelnet10", root=folder, split="test", verify=False)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "options, message",
    [({"split": "val"}, "split"), ({"num_points": 0}, "num_points"), ({"num_points": 2048}, "num_points"), ({"subset": 5}, "subset")],
)
def test_bad_options(tmp_path: Path, options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_dataset("modelnet10", root=tmp_path, **options)


def test_no_root_and_no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUGBENCH_DATA", raising=False)
    with pytest.raises(AugbenchError, match="AUGBENCH_DATA"):
        load_dataset("modelnet10")


def test_known_hashes_match_the_readme_table() -> None:
    readme = SHARED_DATA / "README.md"
    if not readme.is_file():
        pytest.skip("shared/data/README.md not found")
    from augbench.data.modelnet import _SHA256

    text = readme.read_text()
    for name, (digest,) in _SHA256.items():
        assert f"| {name} |" in text and f"`{digest}`" in text
