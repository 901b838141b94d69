"""Affine kernels: identities, exact pixel moves, rotation direction, the inverse matrix, Pillow exactness."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import augbench.functional as F


def _images(shape: tuple[int, ...], dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    if dtype == torch.uint8:
        return torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator)
    return torch.rand(shape, generator=generator, dtype=dtype)


def _assert_same(result: torch.Tensor, expected: torch.Tensor) -> None:
    assert result.dtype == expected.dtype and result.shape == expected.shape
    if result.is_floating_point():
        torch.testing.assert_close(result, expected, atol=1e-5, rtol=0)
    else:
        assert torch.equal(result, expected)


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_affine_with_neutral_parameters_is_identity(dtype: torch.dtype, interpolation: str) -> None:
    images = _images((3, 3, 9, 12), dtype)
    for fill in (0, 0.5 if dtype.is_floating_point else 200):
        result = F.affine(images, 0.0, (0.0, 0.0), 1.0, (0.0, 0.0), interpolation=interpolation, fill=fill)
        _assert_same(result, images)
    # the same with (B,) tensors for every parameter
    zeros = torch.zeros(3)
    result = F.affine(images, zeros, (zeros, zeros), torch.ones(3), (zeros, zeros), interpolation=interpolation)
    _assert_same(result, images)


def _shifted(images: torch.Tensor, dx: int, dy: int, fill) -> torch.Tensor:
    """out[y, x] = in[y - dy, x - dx], fill where that is outside."""
    height, width = images.shape[-2:]
    out = torch.full_like(images, fill)
    ys, xs = slice(max(dy, 0), height + min(dy, 0)), slice(max(dx, 0), width + min(dx, 0))
    src_ys, src_xs = slice(max(-dy, 0), height + min(-dy, 0)), slice(max(-dx, 0), width + min(-dx, 0))
    out[..., ys, xs] = images[..., src_ys, src_xs]
    return out


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_integer_translate_shifts_pixels_exactly(dtype: torch.dtype, interpolation: str) -> None:
    images = _images((4, 2, 8, 11), dtype)
    dxs, dys = [2, -3, 0, 5], [0, 1, -4, 3]  # positive x moves right, positive y moves down
    result = F.affine(
        images, 0.0, (torch.tensor(dxs, dtype=torch.float32), torch.tensor(dys, dtype=torch.float32)), 1.0, (0.0, 0.0),
        interpolation=interpolation,
    )
    for index, (dx, dy) in enumerate(zip(dxs, dys)):
        _assert_same(result[index], _shifted(images[index], dx, dy, 0))


@pytest.mark.parametrize("side", [6, 7], ids=["even", "odd"])
@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_rotate_is_counter_clockwise_and_affine_angle_is_clockwise(dtype: torch.dtype, interpolation: str, side: int) -> None:
    images = _images((2, 3, side, side), dtype)
    counter_clockwise = torch.rot90(images, 1, dims=(-2, -1))  # rot90 with k=1 turns the picture CCW
    _assert_same(F.rotate(images, 90.0, interpolation=interpolation), counter_clockwise)
    _assert_same(F.rotate(images, -90.0, interpolation=interpolation), torch.rot90(images, -1, dims=(-2, -1)))
    _assert_same(F.affine(images, 90.0, (0, 0), 1.0, (0, 0), interpolation=interpolation), torch.rot90(images, -1, dims=(-2, -1)))
    _assert_same(F.affine(images, -90.0, (0, 0), 1.0, (0, 0), interpolation=interpolation), counter_clockwise)


def test_rot90_direction_on_a_marked_pixel() -> None:
    # Independent of torch.rot90: the top-left pixel goes to the bottom-left under a CCW turn.
    images = torch.zeros(1, 1, 5, 5, dtype=torch.uint8)
    images[0, 0, 0, 0] = 255
    rotated = F.rotate(images, 90.0)
    assert rotated[0, 0, 4, 0] == 255 and int(rotated.sum()) == 255


def test_rotate_with_per_sample_angles() -> None:
    one = _images((1, 3, 8, 8), torch.uint8)
    images = one.expand(4, -1, -1, -1)
    result = F.rotate(images, torch.tensor([0.0, 90.0, 180.0, 270.0]))
    for k in range(4):
        assert torch.equal(result[k], torch.rot90(one[0], k, dims=(-2, -1))), f"sample {k}"


def test_per_sample_angles_differ_per_sample_and_match_single_calls() -> None:
    one = _images((1, 3, 12, 12), torch.float32)
    angles = torch.tensor([0.0, 17.0, -33.0, 61.0])
    result = F.affine(one.expand(4, -1, -1, -1), angles, (0.0, 0.0), 1.0, (0.0, 0.0), interpolation="bilinear")
    for index in range(4):
        alone = F.affine(one, float(angles[index]), (0.0, 0.0), 1.0, (0.0, 0.0), interpolation="bilinear")
        torch.testing.assert_close(result[index : index + 1], alone, atol=1e-6, rtol=0)
        for other in range(index):
            assert not torch.allclose(result[index], result[other], atol=1e-3)


def test_scale_two_magnifies_about_the_centre() -> None:
    images = _images((1, 1, 8, 10), torch.uint8)
    result = F.affine(images, 0.0, (0, 0), 2.0, (0, 0))  # nearest
    # output pixel j (centre j + 0.5 - W/2) reads input position (j + 0.5 - W/2) / 2 + W/2 - 0.5
    rows = [round((i + 0.5 - 4) / 2 + 4 - 0.5) for i in range(8)]
    cols = [round((j + 0.5 - 5) / 2 + 5 - 0.5) for j in range(10)]
    assert torch.equal(result[0, 0], images[0, 0][rows][:, cols])


def test_rotate_about_a_given_center() -> None:
    images = _images((1, 1, 8, 9), torch.uint8)
    result = F.rotate(images, 180.0, center=[4.5, 5.0], fill=7)  # one pixel below the image centre
    # a half turn about (W/2, H/2 + 1) maps row y to row H + 1 - y and column x to W - 1 - x
    expected = torch.full_like(images, 7)
    for y in range(8):
        if 0 <= 9 - y < 8:
            expected[0, 0, y] = images[0, 0, 9 - y].flip(-1)
    assert torch.equal(result, expected)


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_fill_value_appears_outside(dtype: torch.dtype, interpolation: str) -> None:
    images = torch.full((2, 3, 16, 16), 0.5 if dtype.is_floating_point else 128, dtype=dtype)
    per_channel = [0.1, 0.2, 0.9] if dtype.is_floating_point else [10, 20, 230]
    for fill in (per_channel[2], per_channel):
        result = F.rotate(images, 45.0, interpolation=interpolation, fill=fill)
        expected_corner = torch.tensor(per_channel if isinstance(fill, list) else [fill] * 3, dtype=dtype)
        for row, col in [(0, 0), (0, 15), (15, 0), (15, 15)]:
            _assert_same(result[:, :, row, col], expected_corner.expand(2, 3))
        _assert_same(result[:, :, 8, 8], images[:, :, 8, 8])  # the centre stays image


def test_fill_also_outside_after_translate_with_bilinear_blend_only_at_border() -> None:
    images = torch.ones(1, 1, 6, 6)
    result = F.affine(images, 0.0, (2.5, 0.0), 1.0, (0.0, 0.0), interpolation="bilinear", fill=0.0)
    assert torch.equal(result[0, 0, :, :2], torch.zeros(6, 2))  # fully outside: fill
    torch.testing.assert_close(result[0, 0, :, 2], torch.full((6,), 0.5))  # half outside: blend
    torch.testing.assert_close(result[0, 0, :, 3:], torch.ones(6, 3))


# -- inverse_affine_matrix -----------------------------------------------------------------------


def _forward_matrix(angle, tx, ty, scale, shear_x, shear_y, cx, cy) -> torch.Tensor:
    """The forward map T(t) C R(angle) S(scale) Sh_y Sh_x C^-1 as (3, 3), built from its factors.

    y points down, so R with a positive angle turns clockwise on screen; Sh_x(s) = [[1, -tan s], [0, 1]],
    Sh_y(s) = [[1, 0], [-tan s, 1]] (torchvision's convention).
    """

    def homogeneous(linear=None, shift=(0.0, 0.0)) -> torch.Tensor:
        matrix = torch.eye(3, dtype=torch.float64)
        if linear is not None:
            matrix[:2, :2] = torch.tensor(linear, dtype=torch.float64)
        matrix[:2, 2] = torch.tensor(shift, dtype=torch.float64)
        return matrix

    a, sx, sy = math.radians(angle), math.radians(shear_x), math.radians(shear_y)
    rotation = homogeneous([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    zoom = homogeneous([[scale, 0.0], [0.0, scale]])
    shear_y_matrix = homogeneous([[1.0, 0.0], [-math.tan(sy), 1.0]])
    shear_x_matrix = homogeneous([[1.0, -math.tan(sx)], [0.0, 1.0]])
    return (
        homogeneous(shift=(tx, ty)) @ homogeneous(shift=(cx, cy)) @ rotation @ zoom @ shear_y_matrix @ shear_x_matrix
        @ homogeneous(shift=(-cx, -cy))
    )


def test_inverse_affine_matrix_inverts_the_forward_map() -> None:
    generator = torch.Generator().manual_seed(0)
    n = 16

    def draw(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=generator, dtype=torch.float64)

    params = [draw(-180, 180), draw(-5, 5), draw(-5, 5), draw(0.5, 2.0), draw(-30, 30), draw(-30, 30), draw(-3, 3), draw(-3, 3)]
    inverse = F.inverse_affine_matrix(*params)
    assert inverse.shape == (n, 2, 3) and inverse.dtype == torch.float64
    for index in range(n):
        forward = _forward_matrix(*(float(p[index]) for p in params))
        inverse_3x3 = torch.cat([inverse[index], torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64)])
        torch.testing.assert_close(inverse_3x3 @ forward, torch.eye(3, dtype=torch.float64), atol=1e-10, rtol=0)
        torch.testing.assert_close(forward @ inverse_3x3, torch.eye(3, dtype=torch.float64), atol=1e-10, rtol=0)


def test_inverse_affine_matrix_of_a_pure_translation() -> None:
    zeros, ones = torch.zeros(1, dtype=torch.float64), torch.ones(1, dtype=torch.float64)
    inverse = F.inverse_affine_matrix(zeros, ones * 3, ones * -2, ones, zeros, zeros, zeros, zeros)
    expected = torch.tensor([[[1.0, 0.0, -3.0], [0.0, 1.0, 2.0]]], dtype=torch.float64)
    torch.testing.assert_close(inverse, expected, atol=1e-12, rtol=0)


# -- Pillow exactness of "nearest", torchvision's signatures ------------------------------------

Image = pytest.importorskip("PIL.Image")
FILL = (10, 200, 30)


def _torchvision_inverse_matrix(center, angle, translate, scale, shear) -> list[float]:
    """torchvision's ``_get_inverse_affine_matrix`` in Python floats (what its PIL path hands Pillow)."""
    rot, sx, sy = math.radians(angle), math.radians(shear[0]), math.radians(shear[1])
    cos_sy, tan_sx = math.cos(sy), math.tan(sx)
    a = math.cos(rot - sy) / cos_sy
    b = -(a * tan_sx + math.sin(rot))
    c = math.sin(rot - sy) / cos_sy
    d = math.cos(rot) - c * tan_sx
    matrix = [d / scale, -b / scale, 0.0, -c / scale, a / scale, 0.0]
    cx_tx, cy_ty = center[0] + translate[0], center[1] + translate[1]
    matrix[2] += center[0] - matrix[0] * cx_tx - matrix[1] * cy_ty
    matrix[5] += center[1] - matrix[3] * cx_tx - matrix[4] * cy_ty
    return matrix


@pytest.fixture(scope="module")
def shapes(cifar64, pil_reference) -> dict[str, torch.Tensor]:
    """Real images: 16 CIFAR-10 32x32, and the same resized by Pillow to 37x53 and 64x48."""
    images = cifar64[:16]
    resize = lambda size: pil_reference.apply(images, lambda im: im.resize(size, Image.Resampling.BICUBIC))  # noqa: E731
    return {"32x32": images, "37x53": resize((53, 37)), "64x48": resize((48, 64))}


_AFFINES = {
    "rotate-translate-scale-shear": (15.0, [2, -3], 1.1, [5.0, -4.0]),
    "scalar shear": (0.0, [0, 0], 1.0, 10.0),
    "scale only": (0.0, [0, 0], 1.25, [0.0, 0.0]),  # Pillow's ImagingScaleAffine: accumulated doubles
    "fractional translate": (0.0, [3.5, -2.25], 1.0, [0.0, 0.0]),
    "rotate and zoom out": (-30.0, [1, 1], 0.9, [0.0, 0.0]),
}


@pytest.mark.parametrize("shape", ["32x32", "37x53", "64x48"])
@pytest.mark.parametrize("case", list(_AFFINES))
def test_nearest_affine_equals_pillows_transform(shapes, pil_reference, shape: str, case: str) -> None:
    images = shapes[shape]
    angle, translate, scale, shear = _AFFINES[case]
    height, width = images.shape[-2:]
    shear_pair = (shear, 0.0) if isinstance(shear, float) else shear
    matrix = _torchvision_inverse_matrix((width * 0.5, height * 0.5), angle, translate, scale, shear_pair)
    expected = pil_reference.apply(
        images, lambda im: im.transform(im.size, Image.Transform.AFFINE, matrix, Image.Resampling.NEAREST, fillcolor=FILL)
    )
    assert torch.equal(F.affine(images, angle, translate, scale, shear, "nearest", list(FILL)), expected)


@pytest.mark.parametrize("shape", ["32x32", "37x53", "64x48"])
@pytest.mark.parametrize("angle", [30.0, 90.0, 135.0, -17.3, 200.0])
@pytest.mark.parametrize("expand", [False, True])
def test_nearest_rotate_equals_pillows_rotate(shapes, pil_reference, shape: str, angle: float, expand: bool) -> None:
    images = shapes[shape]
    expected = pil_reference.apply(images, lambda im: im.rotate(angle, Image.Resampling.NEAREST, expand=expand, fillcolor=FILL))
    assert torch.equal(F.rotate(images, angle, "nearest", expand, None, list(FILL)), expected)


def test_nearest_rotate_about_a_center_equals_pillow(shapes, pil_reference) -> None:
    images = shapes["37x53"]
    expected = pil_reference.apply(images, lambda im: im.rotate(33.0, Image.Resampling.NEAREST, center=(5.0, 7.5), fillcolor=FILL))
    assert torch.equal(F.rotate(images, 33.0, center=[5.0, 7.5], fill=list(FILL)), expected)


def test_per_sample_angles_equal_pillow_image_by_image(shapes) -> None:
    images = shapes["32x32"]
    angles = torch.linspace(-45, 135, len(images), dtype=torch.float64)
    result = F.rotate(images, angles, fill=list(FILL))
    for index, image in enumerate(images):
        pil = Image.fromarray(image.permute(1, 2, 0).numpy())
        expected = np.asarray(pil.rotate(float(angles[index]), Image.Resampling.NEAREST, fillcolor=FILL))
        assert np.array_equal(result[index].permute(1, 2, 0).numpy(), expected), f"sample {index}"


def test_rotate_takes_torchvisions_positional_order_and_fill_none() -> None:
    images = _images((2, 3, 9, 12), torch.uint8)
    by_position = F.rotate(images, 30.0, "bilinear", True, [4.0, 5.0], [1, 2, 3])
    by_name = F.rotate(images, angle=30.0, interpolation="bilinear", expand=True, center=[4.0, 5.0], fill=[1, 2, 3])
    assert torch.equal(by_position, by_name)
    assert torch.equal(F.rotate(images, 30.0, fill=None), F.rotate(images, 30.0, fill=0))
    assert torch.equal(F.affine(images, 10.0, [1, 2], 1.0, 0.0, fill=None), F.affine(images, 10.0, [1, 2], 1.0, 0.0, fill=0))


def test_shear_forms_follow_torchvision() -> None:
    images = _images((2, 3, 16, 16), torch.uint8)
    assert torch.equal(F.affine(images, 0.0, [0, 0], 1.0, 10.0), F.affine(images, 0.0, [0, 0], 1.0, [10.0, 0.0]))
    assert torch.equal(F.affine(images, 0.0, [0, 0], 1.0, [7.0]), F.affine(images, 0.0, [0, 0], 1.0, [7.0, 7.0]))
    per_sample = torch.tensor([10.0, -5.0])
    assert torch.equal(F.affine(images, 0.0, [0, 0], 1.0, per_sample), F.affine(images, 0.0, [0, 0], 1.0, [per_sample, 0.0]))


def test_expand_with_per_sample_angles_uses_the_largest_canvas() -> None:
    images = _images((3, 3, 20, 30), torch.uint8)
    angles = torch.tensor([0.0, 30.0, 45.0], dtype=torch.float64)
    result = F.rotate(images, angles, expand=True)
    sizes = [F.rotate(images[i : i + 1], float(angles[i]), expand=True).shape[-2:] for i in range(3)]
    assert result.shape[-2:] == (max(s[0] for s in sizes), max(s[1] for s in sizes))
    largest = max(range(3), key=lambda i: sizes[i][0] * sizes[i][1])
    assert torch.equal(result[largest : largest + 1], F.rotate(images[largest : largest + 1], float(angles[largest]), expand=True))


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_bicubic_warps_keep_the_value_range_and_neutral_parameters(dtype: torch.dtype) -> None:
    images = _images((2, 3, 12, 14), dtype)
    _assert_same(F.affine(images, 0.0, [0, 0], 1.0, 0.0, "bicubic"), images)
    rotated = F.rotate(images, 20.0, "bicubic")
    high = 255 if dtype == torch.uint8 else 1.0
    assert rotated.dtype == dtype and float(rotated.min()) >= 0 and float(rotated.max()) <= high


@pytest.mark.parametrize(
    "kernel, shape",
    [
        (lambda x: F.affine(x, torch.zeros(0), [0.0, 0.0], 1.0, 0.0), (20, 30)),
        (lambda x: F.affine(x, 10.0, [1, 2], 1.1, [3.0, 4.0], "bilinear"), (20, 30)),
        (lambda x: F.rotate(x, torch.zeros(0)), (20, 30)),
        (lambda x: F.rotate(x, 45.0, expand=True), (36, 36)),
        (lambda x: F.rotate(x, 30.0, "bicubic"), (20, 30)),
        (lambda x: F.warp_affine(x, torch.zeros(0, 2, 3), "nearest"), (20, 30)),
    ],
)
def test_empty_batch_gives_an_empty_batch_of_the_output_shape(kernel, shape: tuple[int, int]) -> None:
    result = kernel(torch.zeros(0, 3, 20, 30, dtype=torch.uint8))
    assert result.shape == (0, 3, *shape) and result.dtype == torch.uint8


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda x: F.affine(x, 0.0, [1.0], 1.0, 0.0), "translate must be \\(tx, ty\\)"),
        (lambda x: F.affine(x, 0.0, [0, 0], 1.0, [1.0, 2.0, 3.0]), "shear=.* must be a number"),
        (lambda x: F.affine(x, 0.0, [0, 0], 0.0, 0.0), "scale"),
        (lambda x: F.affine(x, 0.0, [0, 0], 1.0, 0.0, "nearest-exact"), "use one of 'nearest', 'bilinear', 'bicubic'"),
        (lambda x: F.rotate(x, 10.0, center=[1.0]), "center=.* must be \\(x, y\\)"),
        (lambda x: F.rotate(x.long(), 10.0, "bilinear"), "use 'nearest'"),
    ],
)
def test_bad_arguments_raise_one_line(call, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        call(_images((2, 3, 8, 8), torch.uint8))
    assert "\n" not in str(info.value)
