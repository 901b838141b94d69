"""Dataset readers: real files from shared/data, and broken files written into tmp_path."""

from __future__ import annotations

import gzip
import shutil
import struct
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from augbench.data import DATASETS, Dataset, load_dataset
from augbench.data import files as data_files
from augbench.errors import ConfigError, DataError

SHARED_DATA = Path(os.environ["AUGBENCH_DATA"])  # set by tests/conftest.py
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def shared(subdir: str) -> Path:
    folder = SHARED_DATA / subdir
    if not folder.is_dir():
        pytest.skip(f"shared data folder {folder} not found")
    return folder


def one_line_error(excinfo: pytest.ExceptionInfo[BaseException], *fragments: str) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def idx_bytes(magic: int, dims: tuple[int, ...], data: bytes) -> bytes:
    return struct.pack(f">I{len(dims)}I", magic, *dims) + data


def write_idx_split(
    folder: Path, images: np.ndarray, labels: np.ndarray, prefix: str = "t10k", compress: bool = True
) -> tuple[Path, Path]:
    """Write a valid IDX images/labels pair (N, H, W) / (N,) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if compress else ""
    pack = gzip.compress if compress else bytes
    image_path = folder / f"{prefix}-images-idx3-ubyte{suffix}"
    label_path = folder / f"{prefix}-labels-idx1-ubyte{suffix}"
    image_path.write_bytes(pack(idx_bytes(0x803, images.shape, images.astype(np.uint8).tobytes())))
    label_path.write_bytes(pack(idx_bytes(0x801, labels.shape, labels.astype(np.uint8).tobytes())))
    return image_path, label_path


def tiny_idx(count: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (count, 28, 28), dtype=np.uint8), np.arange(count, dtype=np.uint8) % 10


# ---------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def mnist_train() -> Dataset:
    return load_dataset("mnist", root=shared("mnist"), split="train")


@pytest.fixture(scope="module")
def mnist_test() -> Dataset:
    return load_dataset("mnist", root=shared("mnist"), split="test")


@pytest.fixture(scope="module")
def fashion_train() -> Dataset:
    return load_dataset("fashion_mnist", root=shared("fashion_mnist"), split="train")


@pytest.fixture(scope="module")
def cifar_test() -> Dataset:
    return load_dataset("cifar10", root=shared("cifar10"), split="test")


def test_registered_names() -> None:
    assert {"mnist", "fashion_mnist", "cifar10", "image_folder"} <= set(DATASETS.names())
    with pytest.raises(TypeError, match="unknown option"):
        load_dataset("mnist", folder="x")


def test_mnist_test_split_matches_a_plain_numpy_read(mnist_test: Dataset) -> None:
    assert mnist_test.inputs.shape == (10_000, 1, 28, 28) and mnist_test.inputs.dtype == torch.uint8
    assert mnist_test.labels.dtype == torch.int64
    assert mnist_test.labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert torch.bincount(mnist_test.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert mnist_test.class_names == tuple("0123456789")
    raw = gzip.decompress((shared("mnist") / "t10k-images-idx3-ubyte.gz").read_bytes())
    reference = np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28)
    assert torch.equal(mnist_test.inputs[:, 0], torch.from_numpy(reference.copy()))


def test_mnist_train_label_counts(mnist_train: Dataset) -> None:
    assert mnist_train.inputs.shape == (60_000, 1, 28, 28)
    assert mnist_train.labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert torch.bincount(mnist_train.labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def test_fashion_mnist_train(fashion_train: Dataset) -> None:
    assert fashion_train.inputs.shape == (60_000, 1, 28, 28)
    assert fashion_train.labels[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert torch.bincount(fashion_train.labels).tolist() == [6000] * 10
    assert fashion_train.class_names[0] == "T-shirt/top" and fashion_train.class_names[9] == "Ankle boot"


def test_fashion_mnist_test() -> None:
    dataset = load_dataset("fashion_mnist", root=shared("fashion_mnist"), split="test")
    assert dataset.inputs.shape == (10_000, 1, 28, 28)
    assert dataset.labels[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
    assert torch.bincount(dataset.labels).tolist() == [1000] * 10


def test_cifar10_test_file(cifar_test: Dataset) -> None:
    assert cifar_test.inputs.shape == (1000, 3, 32, 32) and cifar_test.inputs.dtype == torch.uint8
    assert cifar_test.labels[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]
    assert torch.bincount(cifar_test.labels).tolist() == [103, 89, 100, 103, 90, 86, 112, 102, 106, 109]
    assert cifar_test.class_names == CIFAR_CLASSES
    records = np.fromfile(shared("cifar10") / "test_batch_first1000.bin", np.uint8).reshape(-1, 3073)
    reference = records[:, 1:].reshape(-1, 3, 32, 32)
    assert torch.equal(cifar_test.inputs, torch.from_numpy(reference.copy()))


def test_cifar10_train_concatenates_batches_in_order() -> None:
    dataset = load_dataset("cifar10", root=shared("cifar10"), split="train")
    assert dataset.inputs.shape == (20_000, 3, 32, 32)
    assert dataset.labels[:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    assert dataset.labels[10_000:10_010].tolist() == [1, 6, 6, 8, 8, 3, 4, 6, 0, 6]
    batch1 = [1005, 974, 1032, 1016, 999, 937, 1030, 1001, 1025, 981]
    batch2 = [984, 1007, 1010, 995, 1010, 988, 1008, 1026, 987, 985]
    assert torch.bincount(dataset.labels[:10_000]).tolist() == batch1
    assert torch.bincount(dataset.labels[10_000:]).tolist() == batch2


def test_root_defaults_to_environment_variable(monkeypatch: pytest.MonkeyPatch, cifar_test: Dataset) -> None:
    shared("cifar10")
    monkeypatch.setenv("AUGBENCH_DATA", str(SHARED_DATA))
    assert torch.equal(load_dataset("cifar10", split="test").labels, cifar_test.labels)


def test_no_root_and_no_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUGBENCH_DATA", raising=False)
    with pytest.raises(ConfigError) as excinfo:
        load_dataset("mnist")
    one_line_error(excinfo, "root=", "AUGBENCH_DATA")


def test_parent_folder_as_root_suggests_the_subfolder() -> None:
    shared("mnist")
    with pytest.raises(DataError) as excinfo:
        load_dataset("mnist", root=SHARED_DATA, split="test")
    one_line_error(excinfo, "t10k-images-idx3-ubyte.gz", f"did you mean root='{SHARED_DATA / 'mnist'}'")


# ---------------------------------------------------------------- IDX: broken files


def test_idx_round_trip_gzip_and_plain(tmp_path: Path) -> None:
    images, labels = tiny_idx()
    for compress in (True, False):
        folder = tmp_path / str(compress)
        write_idx_split(folder, images, labels, prefix="train", compress=compress)
        dataset = load_dataset("mnist", root=folder, split="train", verify=False)
        assert dataset.inputs.shape == (3, 1, 28, 28)
        assert torch.equal(dataset.inputs[:, 0], torch.from_numpy(images))
        assert dataset.labels.tolist() == labels.tolist()


def test_idx_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError) as excinfo:
        load_dataset("mnist", root=tmp_path, split="test")
    one_line_error(excinfo, "mnist: missing", str(tmp_path / "t10k-images-idx3-ubyte.gz"))


def test_idx_missing_root(tmp_path: Path) -> None:
    with pytest.raises(DataError) as excinfo:
        load_dataset("fashion_mnist", root=tmp_path / "nowhere")
    one_line_error(excinfo, str(tmp_path / "nowhere"), "does not exist")


def test_idx_bad_split(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="split='val'"):
        load_dataset("mnist", root=tmp_path, split="val")


def test_idx_bad_magic(tmp_path: Path) -> None:
    images, labels = tiny_idx()
    image_path, _ = write_idx_split(tmp_path, images, labels)
    image_path.write_bytes(gzip.compress(idx_bytes(0x1234, (3, 28, 28), images.tobytes())))
    with pytest.raises(DataError) as excinfo:
        load_dataset("mnist", root=tmp_path, split="test")
    one_line_error(excinfo, str(image_path), "bad magic 0x00001234, expected 0x00000803", "MNIST IDX file")


def test_idx_labels_file_given_as_images(tmp_path: Path) -> None:
    images, labels = tiny_idx()
    image_path, label_path = write_idx_split(tmp_path, images, labels)
    shutil.copy(label_path, image_path)
    with pytest.raises(DataError) as excinfo:
        load_dataset("fashion_mnist", root=tmp_path, split="test")
    one_line_error(excinfo, "bad magic 0x00000801", "Fashion-MNIST")


@pytest.mark.parametrize("keep", [2 * 784 + 16, 10])
def test_idx_truncated_data_and_header(tmp_path: Path, keep: int) -> None:
    images, labels = tiny_idx()
    image_path, _ = write_idx_split(tmp_path, images, labels, compress=False)
    image_path.write_bytes(image_path.read_bytes()[:keep])
    with pytest.raises(DataError) as excinfo:
        load_dataset("mnist", root=tmp_path, split="test")
    one_line_error(excinfo, str(image_path), "truncated")


def test_idx_trailing_bytes(tmp_path: Path) -> None:
    images, labels = tiny_idx()
    _, label_path = write_idx_split(tmp_path, images, labels, compress=False)
    label_path.write_bytes(label_path.read_bytes() + b"\x00")
    with pytest.raises(DataError) as excinfo:
        load_dataset("mnist", root=tmp_path, split="test", verify=False)
    one_line_error(excinfo, str(label_path), "too long")


def test_idx_truncated_gzip(tmp_path: Path) -> None:
    images, labels = tiny_idx()
    image_path, _ = write_idx_split(tmp_path, images, labels)
    image_path.write_bytes(image_path.read_bytes()[:-20])
    with pytest.raises(DataError) as excinfo:
        load_dataset("mnist", root=tmp_path, split="test")
    one_line_error(excinfo, str(image_path), "gzip")


def test_idx_wrong_image_size(tmp_path: Path) -> None:
    labels = np.zeros(2, np.uint8)
    image_path, _ = write_idx_split(tmp_path, np.zeros((2, 32, 32), np.uint8), labels)
    with pytest.raises(DataError) as excinfo:
        load_dataset("mnist", root=tmp_path, split="test", verify=False)
    one_line_error(excinfo, str(image_path), "32x32, expected 28x28")


def test_idx_label_count_mismatch(tmp_path: Path) -> None:
    images, _ = tiny_idx(3)
    _, label_path = write_idx_split(tmp_path, images, np.zeros(2, np.uint8))
    with pytest.raises(DataError) as excinfo:
        load_dataset("mnist", root=tmp_path, split="test", verify=False)
    one_line_error(excinfo, str(label_path), "2 labels", "3 images")


def test_idx_label_out_of_range(tmp_path: Path) -> None:
    images, _ = tiny_idx(3)
    _, label_path = write_idx_split(tmp_path, images, np.array([1, 10, 2]))
    with pytest.raises(DataError) as excinfo:
        load_dataset("mnist", root=tmp_path, split="test", verify=False)
    one_line_error(excinfo, str(label_path), "label 10 at index 1 is out of range 0..9")


def test_idx_wrong_checksum(tmp_path: Path) -> None:
    images, labels = tiny_idx()
    image_path, _ = write_idx_split(tmp_path, images, labels)
    with pytest.raises(DataError) as excinfo:
        load_dataset("mnist", root=tmp_path, split="test")
    one_line_error(excinfo, str(image_path), "SHA-256", "verify=False")


def test_checksum_accepts_recompressed_and_plain_copies(tmp_path: Path) -> None:
    source = shared("mnist")
    raw_labels = gzip.decompress((source / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(raw_labels)  # plain: matches the content hash
    images = gzip.decompress((source / "t10k-images-idx3-ubyte.gz").read_bytes())
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(images, compresslevel=1))
    dataset = load_dataset("mnist", root=tmp_path, split="test")
    assert dataset.labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_checksum_catches_a_changed_label_and_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = shared("mnist")
    shutil.copy(source / "t10k-images-idx3-ubyte.gz", tmp_path)
    label_path = tmp_path / "t10k-labels-idx1-ubyte"
    raw_labels = bytearray(gzip.decompress((source / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    label_path.write_bytes(bytes(raw_labels))
    load_dataset("mnist", root=tmp_path, split="test")

    class NoHashing:
        @staticmethod
        def sha256(data: bytes) -> None:
            raise AssertionError("an unchanged, verified file was hashed again")

    with monkeypatch.context() as patch:
        patch.setattr(data_files, "hashlib", NoHashing)
        load_dataset("mnist", root=tmp_path, split="test")

    raw_labels[8] = 3  # first label 7 -> 3: still a valid label, so only the hash can tell
    label_path.unlink()
    label_path.write_bytes(bytes(raw_labels))
    with pytest.raises(DataError) as excinfo:
        load_dataset("mnist", root=tmp_path, split="test")
    one_line_error(excinfo, str(label_path), "SHA-256")
    assert load_dataset("mnist", root=tmp_path, split="test", verify=False).labels[0] == 3


# ---------------------------------------------------------------- CIFAR-10: broken files


def cifar_records(labels: list[int]) -> bytes:
    rng = np.random.default_rng(1)
    records = rng.integers(0, 256, (len(labels), 3073), dtype=np.uint8)
    records[:, 0] = labels
    return records.tobytes()


def test_cifar10_unknown_file_loads_with_default_class_names(tmp_path: Path) -> None:
    data = cifar_records([4, 0, 9])
    (tmp_path / "test_batch.bin").write_bytes(data)
    dataset = load_dataset("cifar10", root=tmp_path, split="test")
    assert dataset.labels.tolist() == [4, 0, 9]
    assert dataset.class_names == CIFAR_CLASSES
    expected = np.frombuffer(data, np.uint8).reshape(3, 3073)[:, 1:].reshape(3, 3, 32, 32)
    assert torch.equal(dataset.inputs, torch.from_numpy(expected.copy()))


def test_cifar10_truncated(tmp_path: Path) -> None:
    path = tmp_path / "data_batch_1.bin"
    path.write_bytes(cifar_records([1, 2])[:-5])
    with pytest.raises(DataError) as excinfo:
        load_dataset("cifar10", root=tmp_path)
    one_line_error(excinfo, str(path), "3073-byte records")


def test_cifar10_label_out_of_range(tmp_path: Path) -> None:
    path = tmp_path / "data_batch_1.bin"
    path.write_bytes(cifar_records([1, 12]))
    with pytest.raises(DataError) as excinfo:
        load_dataset("cifar10", root=tmp_path)
    one_line_error(excinfo, str(path), "label 12 of record 1 is out of range 0..9")


def test_cifar10_missing_files_and_python_version_hint(tmp_path: Path) -> None:
    with pytest.raises(DataError) as excinfo:
        load_dataset("cifar10", root=tmp_path, split="test")
    one_line_error(excinfo, "no test_batch*.bin files", str(tmp_path))
    (tmp_path / "data_batch_1").write_bytes(b"\x80\x02")
    with pytest.raises(DataError) as excinfo:
        load_dataset("cifar10", root=tmp_path)
    one_line_error(excinfo, "pickled python version")


def test_cifar10_two_test_files_are_ambiguous(tmp_path: Path) -> None:
    (tmp_path / "test_batch.bin").write_bytes(cifar_records([1]))
    (tmp_path / "test_batch_first1000.bin").write_bytes(cifar_records([1]))
    with pytest.raises(DataError) as excinfo:
        load_dataset("cifar10", root=tmp_path, split="test")
    one_line_error(excinfo, "test_batch.bin, test_batch_first1000.bin")


def test_cifar10_bad_meta(tmp_path: Path) -> None:
    (tmp_path / "test_batch.bin").write_bytes(cifar_records([1]))
    (tmp_path / "batches.meta.txt").write_text("cat\ndog\n\n")
    with pytest.raises(DataError) as excinfo:
        load_dataset("cifar10", root=tmp_path, split="test")
    one_line_error(excinfo, "batches.meta.txt", "2 class names, expected 10")


def test_cifar10_wrong_checksum(tmp_path: Path) -> None:
    data = bytearray((shared("cifar10") / "test_batch_first1000.bin").read_bytes())
    data[100] ^= 0xFF
    path = tmp_path / "test_batch_first1000.bin"
    path.write_bytes(bytes(data))
    with pytest.raises(DataError) as excinfo:
        load_dataset("cifar10", root=tmp_path, split="test")
    one_line_error(excinfo, str(path), "SHA-256")
    assert len(load_dataset("cifar10", root=tmp_path, split="test", verify=False)) == 1000


# ---------------------------------------------------------------- image_folder


@pytest.fixture
def png_tree(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """root/cat/{a,b}.png, root/dog/c.png: 3 RGB images of 4 rows x 5 columns, plus a stray file."""
    from PIL import Image

    pixels = np.random.default_rng(2).integers(0, 256, (3, 4, 5, 3), dtype=np.uint8)
    for index, relative in enumerate(["cat/a.png", "cat/b.PNG", "dog/c.png"]):
        path = tmp_path / relative
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(pixels[index]).save(path)
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    return tmp_path, pixels


def test_image_folder_round_trip(png_tree: tuple[Path, np.ndarray]) -> None:
    root, pixels = png_tree
    dataset = load_dataset("image_folder", root=root)
    assert dataset.class_names == ("cat", "dog")
    assert dataset.labels.tolist() == [0, 0, 1]
    assert dataset.inputs.shape == (3, 3, 4, 5) and dataset.inputs.dtype == torch.uint8
    assert torch.equal(dataset.inputs, torch.from_numpy(pixels.transpose(0, 3, 1, 2).copy()))


def test_image_folder_greyscale_mode_and_mixed_inputs(png_tree: tuple[Path, np.ndarray]) -> None:
    from PIL import Image

    root, pixels = png_tree
    Image.fromarray(pixels[0]).convert("RGBA").save(root / "dog" / "d.png")
    Image.fromarray(pixels[1]).convert("L").save(root / "dog" / "e.jpg")
    grey = load_dataset("image_folder", root=root, mode="L")
    assert grey.inputs.shape == (5, 1, 4, 5)
    expected = np.asarray(Image.fromarray(pixels[0]).convert("L"))
    assert torch.equal(grey.inputs[0, 0], torch.from_numpy(expected.copy()))
    rgb = load_dataset("image_folder", root=root)
    assert rgb.inputs.shape == (5, 3, 4, 5)
    assert torch.equal(rgb.inputs[3], rgb.inputs[0])  # alpha dropped


def test_image_folder_size_mismatch_names_the_file(png_tree: tuple[Path, np.ndarray]) -> None:
    from PIL import Image

    root, _ = png_tree
    odd = root / "dog" / "z.png"
    Image.new("RGB", (6, 4)).save(odd)
    with pytest.raises(DataError) as excinfo:
        load_dataset("image_folder", root=root)
    one_line_error(excinfo, str(odd), "6x4", "5x4", str(root / "cat" / "a.png"))


def test_image_folder_broken_and_wide_images(png_tree: tuple[Path, np.ndarray]) -> None:
    from PIL import Image

    root, _ = png_tree
    broken = root / "dog" / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(DataError) as excinfo:
        load_dataset("image_folder", root=root)
    one_line_error(excinfo, str(broken), "cannot decode")
    broken.unlink()
    wide = root / "dog" / "wide.png"
    Image.fromarray(np.zeros((4, 5), np.uint16)).save(wide)
    with pytest.raises(DataError) as excinfo:
        load_dataset("image_folder", root=root)
    one_line_error(excinfo, str(wide), "8-bit")


def test_image_folder_structure_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError) as excinfo:
        load_dataset("image_folder", root=tmp_path)
    one_line_error(excinfo, "no class sub-folders")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as excinfo:
        load_dataset("image_folder", root=tmp_path)
    one_line_error(excinfo, str(tmp_path / "empty"), "holds no")
    with pytest.raises(ConfigError, match="mode='CMYK'"):
        load_dataset("image_folder", root=tmp_path, mode="CMYK")
