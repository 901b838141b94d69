"""The compiled colour kernels (augbench/native/color.c: jitter, brightness, contrast, saturation) against their torch code: same bits."""

from __future__ import annotations

import shutil

import pytest
import torch

import augbench.functional as F
from augbench import native
from augbench.functional.color import _color_jitter_torch

@pytest.fixture
def compiled(compiled_library):
    return compiled_library("color")


def _factors(batch: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    brightness, contrast, saturation = (torch.rand(batch, generator=generator) * 2.0 for _ in range(3))
    hue = torch.rand(batch, generator=generator) - 0.5
    # The edges: black, flat grey, no colour, half a turn either way, no shift.
    brightness[0], contrast[1], saturation[2], hue[3], hue[4], hue[5] = 0.0, 0.0, 0.0, 0.5, -0.5, 0.0
    return brightness, contrast, saturation, hue


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", [(1, 1), (7, 13), (32, 32)])
def test_the_compiled_kernel_gives_the_torch_chains_bits(compiled, dtype, channels, size) -> None:
    generator = torch.Generator().manual_seed(channels * 100 + size[0])
    shape = (61, channels, *size)
    if dtype == torch.uint8:
        images = torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator)
    else:
        images = torch.rand(shape, generator=generator)
        images[0, :, 0, 0] = 1.0  # white and black pixels, where the clamps bite
        images[1, :, 0, 0] = 0.0
    factors = _factors(shape[0], generator)
    expected = _color_jitter_torch(images, *factors)
    assert torch.equal(F.color_jitter(images, *factors), expected)


def test_saturated_and_grey_pixels_take_the_same_hue_branches(compiled) -> None:
    # Pixels where two channels tie for the maximum (and greys with no chroma) pick the hue
    # formula by the first matching channel; the C select must follow torch.where's order.
    levels = torch.tensor([0, 1, 127, 128, 254, 255], dtype=torch.uint8)
    grid = torch.cartesian_prod(levels, levels, levels).T.reshape(1, 3, 1, -1).expand(4, -1, -1, -1)
    images = grid.contiguous()
    factors = (torch.tensor([1.0, 1.5, 0.5, 1.0]), torch.tensor([1.0, 0.7, 1.3, 1.0]),
               torch.tensor([1.0, 1.8, 0.4, 1.0]), torch.tensor([0.0, 0.25, -0.3, 0.5]))
    assert torch.equal(F.color_jitter(images, *factors), _color_jitter_torch(images, *factors))


def test_strided_and_channels_last_batches_give_the_contiguous_result(compiled) -> None:
    generator = torch.Generator().manual_seed(3)
    images = torch.randint(0, 256, (8, 3, 12, 12), dtype=torch.uint8, generator=generator)
    factors = _factors(8, generator)
    expected = F.color_jitter(images, *factors)
    assert torch.equal(F.color_jitter(images.to(memory_format=torch.channels_last), *factors), expected)
    wide = torch.randint(0, 256, (8, 3, 12, 20), dtype=torch.uint8, generator=generator)
    wide[..., 4:16] = images
    assert torch.equal(F.color_jitter(wide[..., 4:16], *factors), expected)


def test_without_the_library_the_torch_chain_runs(torch_only) -> None:
    generator = torch.Generator().manual_seed(4)
    images = torch.randint(0, 256, (6, 3, 6, 6), dtype=torch.uint8, generator=generator)
    factors = _factors(6, generator)
    library, result = torch_only(lambda: (native.library("color"), F.color_jitter(images, *factors)))
    assert library is None
    assert torch.equal(result, _color_jitter_torch(images, *factors))


def test_a_failing_compiler_is_one_line_and_leaves_the_torch_kernels(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(native.NATIVE_DIR_ENV_VAR, str(tmp_path))
    monkeypatch.setenv("CC", shutil.which("false") or "false")
    native.library.cache_clear()
    try:
        with pytest.raises(RuntimeError, match=r"compiling color\.c failed .*AUGBENCH_NATIVE=0") as error:
            native.build("color")
        assert "\n" not in str(error.value)
        assert native.library("color") is None
        assert list(tmp_path.iterdir()) == []  # no half-written library left behind
    finally:
        native.library.cache_clear()


def test_no_compiler_is_one_line(monkeypatch) -> None:
    monkeypatch.setenv("CC", "no-such-compiler-here")
    with pytest.raises(RuntimeError, match="no C compiler found .*install gcc or set CC"):
        native.build("color")


def test_a_build_is_cached_under_a_name_that_hashes_the_source(monkeypatch, tmp_path, compiled) -> None:
    monkeypatch.setenv(native.NATIVE_DIR_ENV_VAR, str(tmp_path))
    first = native.build("color")
    stamp = first.stat().st_mtime_ns
    assert native.build("color") == first and first.stat().st_mtime_ns == stamp  # reused, not rebuilt
    assert first.parent == tmp_path and first.name.startswith("color-") and first.suffix == ".so"


def test_other_dtypes_and_empty_batches_use_the_torch_chain(compiled) -> None:
    generator = torch.Generator().manual_seed(5)
    images = torch.rand((6, 3, 5, 5), dtype=torch.float64, generator=generator)
    factors = _factors(6, generator)
    assert F.color_jitter(images, *factors).dtype == torch.float64
    assert torch.equal(F.color_jitter(images, *factors), _color_jitter_torch(images, *factors))
    empty = torch.zeros((0, 3, 5, 5), dtype=torch.uint8)
    assert F.color_jitter(empty, 1.0, 1.0, 1.0, 0.0).shape == empty.shape


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", [(1, 1), (7, 13), (32, 32)])
def test_brightness_contrast_and_saturation_give_the_torch_bits(compiled, torch_only, channels, size) -> None:
    generator = torch.Generator().manual_seed(channels + size[0])
    images = torch.randint(0, 256, (23, channels, *size), dtype=torch.uint8, generator=generator)
    images[0] = 0
    images[1] = 255
    factor = torch.rand(23, generator=generator) * 2.0
    factor[2], factor[3] = 0.0, 1.0
    for kernel in (F.adjust_brightness, F.adjust_contrast, F.adjust_saturation):
        assert torch.equal(kernel(images, factor), torch_only(lambda: kernel(images, factor))), kernel.__name__
