"""Every kernel takes ``(C, H, W)``, ``(B, C, H, W)`` and ``(..., C, H, W)`` inputs, as torchvision's do.

The calls come from the ``kernel_calls`` table of ``tests/conftest.py``, one row per public
kernel; per-image parameters are shaped like the leading dims.
"""

from __future__ import annotations

import inspect

import pytest
import torch

import augbench.functional as F
from augbench.errors import InputTypeError, InputValueError
from augbench.functional._leading_dims import leading_dims

PUBLIC_KERNELS = sorted(name for name in F.__all__ if inspect.isfunction(getattr(F, name)))
"""The public kernels (``InterpolationMode`` is a class, not a kernel)."""

KERNELS = sorted(set(PUBLIC_KERNELS) - {"inverse_affine_matrix"})
DTYPES = [torch.uint8, torch.float32]


def _images(leading: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    images = torch.randint(0, 256, (*leading, 3, 7, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    return images if dtype == torch.uint8 else images.to(dtype) / 255


def _assert_same(actual: torch.Tensor, expected: torch.Tensor) -> None:
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    torch.testing.assert_close(actual, expected, atol=1e-6, rtol=0)


def test_every_public_kernel_has_a_row(kernel_calls):
    assert set(PUBLIC_KERNELS) == set(kernel_calls), "add a row for the new kernel to KERNEL_CALLS in tests/conftest.py"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", KERNELS)
def test_unbatched_image_is_a_batch_of_one(kernel_calls, kernel_args, name, dtype):
    images = _images((), dtype)
    call = kernel_calls[name]
    _assert_same(call(images, kernel_args()), call(images[None], kernel_args())[0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", KERNELS)
def test_leading_dims_with_one_parameter_per_image(kernel_calls, kernel_args, name, dtype):
    leading = (2, 3)
    images = _images(leading, dtype)
    call = kernel_calls[name]
    result = call(images, kernel_args(leading))
    singles = [call(image, kernel_args(leading, index=i)) for i, image in enumerate(images.reshape(-1, 3, 7, 8))]
    _assert_same(result, torch.stack(singles).reshape(*leading, *singles[0].shape))
    _assert_same(call(images, kernel_args()), call(images.reshape(-1, 3, 7, 8), kernel_args()).reshape(result.shape))


@pytest.mark.parametrize("name", KERNELS)
def test_image_argument_is_called_inpt(name):
    assert next(iter(inspect.signature(getattr(F, name)).parameters)) == "inpt"


def test_output_shapes_follow_torchvision():
    image = _images((), torch.uint8)
    assert F.rgb_to_grayscale(image).shape == (1, 7, 8)
    assert F.rgb_to_grayscale(image, num_output_channels=3).shape == (3, 7, 8)
    assert F.resize(image[None, None], [4, 6]).shape == (1, 1, 3, 4, 6)
    assert F.adjust_brightness(inpt=image, brightness_factor=1.5).shape == (3, 7, 8)
    assert F.gaussian_blur(image.expand(2, 5, 3, 7, 8), 3).shape == (2, 5, 3, 7, 8)
    assert F.autocontrast(torch.zeros(0, 4, 3, 7, 8)).shape == (0, 4, 3, 7, 8)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda x: F.adjust_brightness(x, torch.ones(3)), InputValueError, r"one value per image, shape \(2, 3\)"),
        (lambda x: F.posterize(x, torch.ones(3, 2)), InputValueError, r"shape \(2, 3\)"),
        (lambda x: F.rotate(x[0, 0], torch.ones(1)), InputValueError, "0-d tensor for an unbatched"),
        (lambda x: F.affine(x, 0.0, (torch.ones(2), 0.0), 1.0, (0.0, 0.0)), InputValueError, "translate"),
        (lambda x: F.gaussian_noise(x, noise=torch.ones(3, 3, 7, 8)), InputValueError, r"noise has shape \(3, 3, 7, 8\)"),
        (lambda x: F.warp_affine(x[0, 0], torch.zeros(1, 1, 2, 3), "nearest"), InputValueError, "at most 2 dims"),
        (lambda x: F.invert(x[0, 0, 0]), InputValueError, r"\(\.\.\., C, H, W\).*x\[None\]"),
        (lambda x: F.equalize(x[0, 0, 0, 0]), InputValueError, r"reshape it to \(C, H, W\)"),
        (lambda x: F.solarize(x.tolist(), 128), InputTypeError, "torch.as_tensor"),
    ],
)
def test_bad_shapes_raise_one_line(call, error, match):
    with pytest.raises(error, match=match) as info:
        call(_images((2, 3), torch.uint8))
    assert "\n" not in str(info.value)


def test_decorating_with_an_unknown_parameter_fails_at_import_time():
    with pytest.raises(TypeError, match="has no parameter 'factor'"):

        @leading_dims("factor")
        def kernel(images: torch.Tensor, amount: float) -> torch.Tensor:
            return images


def test_four_dim_batches_go_straight_to_the_kernel():
    seen = []

    @leading_dims("amount")
    def kernel(images: torch.Tensor, amount: torch.Tensor) -> torch.Tensor:
        seen.append((images, amount))
        return images

    images, amount = torch.zeros(2, 1, 3, 3), torch.ones(2)
    assert kernel(images, amount) is images and seen[0][0] is images and seen[0][1] is amount
