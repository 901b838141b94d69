"""Point-cloud transforms: each op's invariant, identity at level 0, keyed draws, replay, policy ops.

The generic contract (shape, dtype, replay, keyed draws, same_on_batch, p=0, serialisation,
empty batch, bad layout, NaN) runs over every transform in ``tests/modalities/test_contract.py``;
this file checks what is specific to each op.
"""

from __future__ import annotations

import math

import pytest
import torch

import augbench.functional.points as F
from augbench.errors import AugbenchError, InputValueError
from augbench.policies.modal import ModalityRandAugment, list_ops, modality_ops
from augbench.serialization import from_dict
from augbench.transforms import (
    PointDropout,
    PointJitter,
    PointOcclusion,
    PointResample,
    PointRotate,
    PointRotateSO3,
    PointScale,
    PointTranslate,
)


def _clouds(batch: int = 8, size: int = 200, features: int = 0, seed: int = 0) -> torch.Tensor:
    values = torch.randn(batch, size, 3 + features, generator=torch.Generator().manual_seed(seed))
    return values


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _pairwise(points: torch.Tensor) -> torch.Tensor:
    return torch.cdist(points[..., :3].double(), points[..., :3].double())


def _sorted_rows(points: torch.Tensor) -> torch.Tensor:
    """Each cloud's points in lexicographic order (to compare clouds up to point order)."""
    out = []
    for cloud in points:
        keys = cloud.double()
        order = torch.argsort(keys[:, 2], stable=True)
        order = order[torch.argsort(keys[order, 1], stable=True)]
        order = order[torch.argsort(keys[order, 0], stable=True)]
        out.append(cloud[order])
    return torch.stack(out)


# -- rotations --------------------------------------------------------------------------------------


@pytest.mark.parametrize("transform", [PointRotate(), PointRotate(axis="x"), PointRotateSO3(), PointRotateSO3(strength=0.3)])
def test_rotations_keep_pairwise_distances_and_norms(transform) -> None:
    clouds = _clouds()
    out = transform(clouds, generator=_gen())
    assert torch.allclose(_pairwise(out), _pairwise(clouds), atol=1e-4)
    assert not torch.allclose(out, clouds)


def test_up_axis_rotation_keeps_the_up_coordinate_and_features() -> None:
    clouds = _clouds(features=2)
    for axis, index in F.AXES.items():
        out = PointRotate(axis=axis)(clouds, generator=_gen())
        assert torch.equal(out[..., index], clouds[..., index])
        assert torch.equal(out[..., 3:], clouds[..., 3:])


def test_axis_rotation_is_right_handed_and_uses_the_drawn_angle() -> None:
    x_axis = torch.tensor([[[1.0, 0.0, 0.0]]])
    quarter = F.linear_transform(x_axis, F.axis_rotation_matrix(torch.tensor([math.pi / 2]), "z"))
    assert torch.allclose(quarter, torch.tensor([[[0.0, 1.0, 0.0]]]), atol=1e-6)  # x -> y about z
    quarter_turn = lambda axis: F.axis_rotation_matrix(torch.tensor([math.pi / 2]), axis)  # noqa: E731
    y_axis, z_axis = torch.tensor([[[0.0, 1.0, 0.0]]]), torch.tensor([[[0.0, 0.0, 1.0]]])
    assert torch.allclose(F.linear_transform(y_axis, quarter_turn("x")), z_axis, atol=1e-6)  # y -> z about x
    assert torch.allclose(F.linear_transform(z_axis, quarter_turn("y")), x_axis, atol=1e-6)  # z -> x about y
    transform = PointRotate(degrees=(30.0, 30.0))
    out = transform(x_axis.expand(3, 1, 3).clone(), generator=_gen())
    angle = torch.atan2(out[..., 1], out[..., 0])
    assert torch.allclose(angle, torch.full_like(angle, math.radians(30.0)), atol=1e-6)


def test_rotation_matrices_are_proper() -> None:
    quaternion = F.uniform_quaternion(torch.rand(500, 3, generator=_gen()))
    matrix = F.quaternion_to_matrix(quaternion)
    identity = torch.eye(3).expand(500, 3, 3)
    assert torch.allclose(matrix @ matrix.transpose(1, 2), identity, atol=1e-5)
    assert torch.allclose(torch.linalg.det(matrix), torch.ones(500), atol=1e-5)


def test_so3_rotations_are_uniform() -> None:
    """Haar measure: E[R] = 0 and E[trace R] = 0, the rotated z axis uniform on the sphere."""
    count = 20000
    matrix = F.quaternion_to_matrix(F.uniform_quaternion(torch.rand(count, 3, generator=_gen(3))).double())
    assert matrix.mean(0).abs().max() < 0.03
    assert matrix.diagonal(dim1=1, dim2=2).sum(-1).mean().abs() < 0.05
    up = matrix[:, :, 2]  # where the z axis goes
    assert (up.square().mean(0) - 1 / 3).abs().max() < 0.02
    # the angle's density is (1 - cos t) / pi on [0, pi]: P(angle < pi / 2) = (pi/2 - 1) / pi
    angle = torch.acos(((matrix.diagonal(dim1=1, dim2=2).sum(-1) - 1) / 2).clamp(-1, 1))
    assert abs(float((angle < math.pi / 2).double().mean()) - (math.pi / 2 - 1) / math.pi) < 0.02


def test_so3_strength_shrinks_the_angle() -> None:
    quaternion = F.uniform_quaternion(torch.rand(100, 3, generator=_gen()))
    angle = lambda q: torch.acos(F.quaternion_to_matrix(q).diagonal(dim1=1, dim2=2).sum(-1).sub(1).div(2).clamp(-1, 1))  # noqa: E731
    full, half = angle(quaternion), angle(F.shrink_rotation(quaternion, 0.5))
    assert torch.allclose(half, full / 2, atol=1e-3)
    assert torch.equal(F.quaternion_to_matrix(F.shrink_rotation(quaternion, 0.0)), torch.eye(3).expand(100, 3, 3))


# -- scaling, translation, jitter -------------------------------------------------------------------


def test_scale_factors_per_axis_within_range() -> None:
    clouds = _clouds()
    transform = PointScale(scale=(0.5, 2.0))
    params = transform.sample(clouds, generator=_gen())
    out = transform.apply(clouds, params)
    ratio = out / clouds
    assert torch.allclose(ratio, params.factors[:, None, :].expand_as(ratio), atol=1e-4)
    assert params.factors.min() >= 0.5 and params.factors.max() <= 2.0
    assert (params.factors[:, 0] != params.factors[:, 1]).all()  # anisotropic by default
    iso = PointScale(anisotropic=False).sample(clouds, generator=_gen()).factors
    assert torch.equal(iso[:, 0], iso[:, 1]) and torch.equal(iso[:, 1], iso[:, 2])


def test_translation_keeps_the_centred_shape() -> None:
    clouds = _clouds(features=1)
    transform = PointTranslate(shift=0.5)
    params = transform.sample(clouds, generator=_gen())
    out = transform.apply(clouds, params)
    centred = lambda x: x[..., :3] - x[..., :3].mean(1, keepdim=True)  # noqa: E731
    assert torch.allclose(centred(out), centred(clouds), atol=1e-5)
    assert torch.allclose(out[..., :3].mean(1) - clouds[..., :3].mean(1), params.shift, atol=1e-5)
    assert params.shift.abs().max() <= 0.5
    assert torch.equal(out[..., 3:], clouds[..., 3:])


def test_jitter_is_bounded_by_the_clip_and_has_the_right_spread() -> None:
    clouds = torch.zeros(16, 2000, 3)
    out = PointJitter(sigma=0.01, clip=0.05)(clouds, generator=_gen())
    assert out.abs().max() <= 0.05 + 1e-7
    assert abs(float(out.std()) - 0.01) < 0.0005
    clipped = PointJitter(sigma=0.1, clip=0.05)(clouds, generator=_gen())
    assert clipped.abs().max() <= 0.05 + 1e-7 and (clipped.abs() == 0.05).any()
    free = PointJitter(sigma=0.1, clip=None)(clouds, generator=_gen())
    assert free.abs().max() > 0.2


# -- dropout, resampling, occlusion -----------------------------------------------------------------


def test_dropout_replaces_points_by_a_kept_point() -> None:
    clouds = _clouds(size=300, features=1)
    transform = PointDropout(max_ratio=0.875)
    params = transform.sample(clouds, generator=_gen())
    out = transform.apply(clouds, params)
    dropped = params.dropped
    assert (~dropped).any(1).all()
    assert torch.equal(out[~dropped], clouds[~dropped])
    first_kept = (~dropped).to(torch.uint8).argmax(1)
    expected = clouds[torch.arange(len(clouds)), first_kept]  # (B, D)
    for b in range(len(clouds)):
        assert torch.equal(out[b, dropped[b]], expected[b].expand(int(dropped[b].sum()), -1))
    share = dropped.float().mean(1)
    assert share.max() <= 0.875 + 0.05 and share.std() > 0.05  # ratios differ per sample


def test_dropout_always_keeps_one_point() -> None:
    clouds = _clouds(batch=64, size=3)
    params = PointDropout(max_ratio=0.999).sample(clouds, generator=_gen())
    assert (~params.dropped).any(1).all()


def test_resample_subset_is_distinct_points_of_the_cloud() -> None:
    clouds = _clouds(size=100, features=2)
    out = PointResample(num_points=40)(clouds, generator=_gen())
    assert out.shape == (8, 40, 5)
    for b in range(8):
        matches = (out[b][:, None, :] == clouds[b][None, :, :]).all(-1)  # (40, 100)
        assert (matches.sum(1) == 1).all() and (matches.sum(0) <= 1).all()
    same = PointResample(num_points=100)(clouds, generator=_gen())
    assert torch.equal(same, clouds)  # every point, in its order


def test_resample_up_and_with_replacement() -> None:
    clouds = _clouds(size=50)
    up = PointResample(num_points=80)(clouds, generator=_gen())
    assert up.shape == (8, 80, 3)
    assert torch.equal(_sorted_rows(up[:, :50]), _sorted_rows(clouds))  # all points, then 30 copies
    repeated = PointResample(num_points=200, replace=True)(clouds, generator=_gen())
    for b in range(8):
        assert ((repeated[b][:, None, :] == clouds[b][None]).all(-1).any(1)).all()
    assert PointResample(num_points=10).output_shape((50, 3)) == (10, 3)


def test_resample_refuses_p_and_replay_on_other_sizes() -> None:
    clouds = _clouds(size=50)
    transform = PointResample(num_points=30)
    params = transform.sample(clouds, generator=_gen())
    with pytest.raises(InputValueError, match="call sample"):
        transform.apply(_clouds(size=60), params)
    with pytest.raises(TypeError):
        PointResample(num_points=30, p=0.5)  # type: ignore[call-arg]
    with pytest.raises(InputValueError, match="num_points"):
        PointResample(num_points=0)


@pytest.mark.parametrize("region", ["ball", "halfspace"])
def test_occlusion_removes_a_region_and_keeps_n(region: str) -> None:
    clouds = _clouds(size=400)
    transform = PointOcclusion(fraction=0.25, region=region)
    params = transform.sample(clouds, generator=_gen())
    out = transform.apply(clouds, params)
    assert out.shape == clouds.shape
    removed = 100
    for b in range(len(clouds)):
        present = (clouds[b][:, None, :] == out[b][None]).all(-1).any(1)  # which input points survive
        assert int((~present).sum()) == removed
        gone, kept = clouds[b][~present], clouds[b][present]
        if region == "ball":
            centre = clouds[b, min(int(params.centre[b] * 400), 399)]
            assert (gone - centre).norm(dim=-1).max() <= (kept - centre).norm(dim=-1).min() + 1e-6
        else:
            direction = params.direction[b]
            assert (gone @ direction).min() >= (kept @ direction).max() - 1e-6
        assert torch.equal(out[b][present], clouds[b][present])  # kept points stay in place


def test_occlusion_never_removes_every_point() -> None:
    clouds = _clouds(size=5)
    out = PointOcclusion(fraction=1.0)(clouds, generator=_gen())
    for b in range(len(clouds)):
        assert len(torch.unique(out[b], dim=0)) == 1


# -- identity at level 0, options, keyed draws, serialisation -----------------------------------------


@pytest.mark.parametrize("name", sorted(modality_ops("points")))
def test_policy_ops_are_the_identity_at_level_zero(name: str) -> None:
    clouds = _clouds(features=1)
    transform = modality_ops("points")[name].at(0.0)
    assert torch.equal(transform(clouds, generator=_gen()), clouds)
    strong = modality_ops("points")[name].at(1.0)
    assert not torch.equal(strong(clouds, generator=_gen()), clouds)


def test_points_policy_runs_and_lists_its_ops() -> None:
    names = [name for name, _ in list_ops("points")]
    assert names == ["RotateUp", "RotateSO3", "Scale", "Translate", "Jitter", "Dropout", "Occlusion"]
    policy = ModalityRandAugment("points", num_ops=2, magnitude=9)
    clouds = _clouds()
    out = policy(clouds, generator=_gen())
    assert out.shape == clouds.shape and not torch.equal(out, clouds)
    keys = torch.arange(100, 108)
    order = torch.tensor([6, 1, 3])
    assert torch.allclose(policy(clouds, keys=keys, seed=1)[order], policy(clouds[order], keys=keys[order], seed=1))
    again = from_dict(policy.to_dict())
    assert torch.equal(again(clouds, generator=_gen(2)), policy(clouds, generator=_gen(2)))
    assert torch.equal(ModalityRandAugment("points", magnitude=0)(clouds, generator=_gen()), clouds)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: PointRotate(axis="up"), "axis"),
        (lambda: PointRotate(degrees=(90, 10)), "min > max"),
        (lambda: PointRotate(degrees=-5), ">= 0"),
        (lambda: PointRotateSO3(strength=1.5), "strength"),
        (lambda: PointScale(scale=(0.0, 1.0)), "scale"),
        (lambda: PointScale(anisotropic="yes"), "anisotropic"),
        (lambda: PointTranslate(shift=float("nan")), "shift"),
        (lambda: PointJitter(sigma=-0.1), "sigma"),
        (lambda: PointJitter(clip=-1.0), "clip"),
        (lambda: PointDropout(max_ratio=1.0), "max_ratio"),
        (lambda: PointOcclusion(region="box"), "region"),
        (lambda: PointOcclusion(fraction=(0.2, 1.5)), "fraction"),
    ],
)
def test_bad_options_fail_in_one_line(build, message: str) -> None:
    with pytest.raises(InputValueError, match=message) as info:
        build()
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "bad, message",
    [
        (torch.randn(4, 10, 2), "last axis is 2"),
        (torch.randn(10, 3), "points batches are"),
        (torch.randn(4, 0, 3), "empty"),
        (torch.randint(0, 5, (4, 10, 3)), "floating"),
    ],
)
def test_bad_input_fails_in_one_line(bad: torch.Tensor, message: str) -> None:
    with pytest.raises(AugbenchError, match=message) as info:
        PointJitter()(bad, generator=_gen())
    assert "\n" not in str(info.value)


def test_replay_on_another_number_of_points_fails_in_one_line() -> None:
    transform = PointJitter()
    params = transform.sample(_clouds(size=100), generator=_gen())
    with pytest.raises(InputValueError, match="drawn for clouds of 100 points, got 120"):
        transform.apply(_clouds(size=120), params)


def test_float64_and_half_keep_their_dtype() -> None:
    for dtype in (torch.float64, torch.bfloat16):
        clouds = _clouds().to(dtype)
        for transform in (PointRotateSO3(), PointScale(), PointJitter(), PointOcclusion(region="halfspace")):
            assert transform(clouds, generator=_gen()).dtype == dtype


def test_keyed_draws_do_not_depend_on_the_batch_for_the_point_ops() -> None:
    clouds = _clouds(size=64)
    keys = torch.arange(10, 18)
    order = torch.tensor([7, 0, 4])
    for transform in (PointDropout(), PointOcclusion(region="halfspace"), PointResample(num_points=32)):
        assert torch.equal(transform(clouds, keys=keys, seed=3)[order], transform(clouds[order], keys=keys[order], seed=3))


def test_consecutive_linear_ops_fuse_into_one_matrix_with_the_same_result() -> None:
    from augbench.transforms import Compose

    clouds = _clouds(features=1)
    pipeline = Compose([PointRotate(p=0.5), PointScale(p=0.7), PointRotateSO3(p=0.5), PointTranslate()])
    params = pipeline.sample(clouds, generator=_gen())
    fused = pipeline.apply(clouds, params)
    step = clouds
    for index, child in enumerate(pipeline.transforms):
        step = child.apply(step, params[str(index)])
    assert torch.allclose(fused, step, atol=1e-5)
    assert torch.equal(fused[..., 3:], clouds[..., 3:])
