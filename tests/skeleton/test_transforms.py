"""Skeleton transforms: each op's invariant, magnitude-0 identity, replay, keyed draws, options.

The generic contract (tests/modalities/test_contract.py) covers shape/dtype, replay, keyed
order-independence, ``same_on_batch``, ``p=0``, serialisation, empty batches and bad layouts
for every transform built with its defaults; this file adds the op-specific checks.
"""

from __future__ import annotations

import pytest
import torch

import augbench.functional.skeleton as F
from augbench.errors import AugbenchError, ConfigError, InputValueError
from augbench.policies.modal import ModalityRandAugment, list_ops, modality_ops
from augbench.serialization import from_dict
from augbench.transforms import (
    Compose,
    SkeletonCropResample,
    SkeletonFlip,
    SkeletonJitter,
    SkeletonJointMask,
    SkeletonLimbMask,
    SkeletonRotate,
    SkeletonScale,
    SkeletonShear,
)

OPS = ("Rotate", "Shear", "Scale", "Jitter", "CropResample", "JointMask", "LimbMask", "Flip")


def _joints(batch: int = 16, frames: int = 12) -> torch.Tensor:
    return torch.randn(batch, frames, 20, 3, generator=torch.Generator().manual_seed(0))


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _bone_lengths(joints: torch.Tensor) -> torch.Tensor:
    start, end = zip(*F.MSR_ACTION3D.bones)
    return (joints[:, :, list(start)] - joints[:, :, list(end)]).norm(dim=-1)


def _differ_per_sample(out: torch.Tensor) -> bool:
    return not all(torch.equal(out[0], out[i]) for i in range(1, out.shape[0]))


def test_policy_ops_are_registered() -> None:
    assert tuple(modality_ops("skeleton")) == OPS
    assert [name for name, _ in list_ops("skeleton")] == list(OPS)


@pytest.mark.parametrize("name", OPS)
def test_every_policy_op_is_the_identity_at_level_zero(name: str) -> None:
    x = _joints()
    assert torch.equal(modality_ops("skeleton")[name].at(0.0)(x, generator=_gen()), x)


@pytest.mark.parametrize("name", OPS)
def test_every_policy_op_changes_the_data_at_level_one(name: str) -> None:
    x = _joints()
    out = modality_ops("skeleton")[name].at(1.0)(x, generator=_gen())
    assert out.shape == x.shape and not torch.equal(out, x)


def test_rotation_keeps_bone_lengths_with_per_sample_angles() -> None:
    x = _joints()
    rotate = SkeletonRotate(degrees=(30.0, 180.0, 10.0))
    params = rotate.sample(x, generator=_gen())
    assert params.angles.shape == (16, 3) and (params.angles.abs() <= torch.tensor([30.0, 180.0, 10.0])).all()
    assert params.angles.unique(dim=0).shape[0] == 16
    out = rotate.apply(x, params)
    assert torch.allclose(_bone_lengths(out), _bone_lengths(x), atol=1e-5)


def test_shear_and_scale_draw_within_their_ranges() -> None:
    x = _joints()
    factors = SkeletonShear(0.3).sample(x, generator=_gen()).factors
    assert factors.shape == (16, 6) and factors.abs().max() <= 0.3
    scale = SkeletonScale((0.5, 2.0), per_axis=True)
    drawn = scale.sample(x, generator=_gen()).factors
    assert drawn.shape == (16, 3) and drawn.min() >= 0.5 and drawn.max() <= 2.0
    assert torch.allclose(scale(x, generator=_gen()), x * drawn[:, None, None, :])
    assert SkeletonScale().sample(x, generator=_gen()).factors.shape == (16,)


def test_jitter_noise_has_the_asked_deviation() -> None:
    x = torch.zeros(64, 32, 20, 3)
    out = SkeletonJitter(sigma=0.05)(x, generator=_gen())
    assert abs(float(out.std()) - 0.05) < 0.002 and abs(float(out.mean())) < 0.002


def test_crop_resample_keeps_T_and_stays_inside_the_sequence() -> None:
    frames = 17
    ramp = torch.arange(frames, dtype=torch.float32).view(1, frames, 1, 1).expand(32, frames, 20, 3).contiguous()
    crop = SkeletonCropResample(ratio=(0.3, 0.6))
    params = crop.sample(ramp, generator=_gen())
    out = crop.apply(ramp, params)
    assert out.shape == ramp.shape
    assert (params.size >= 0.3).all() and (params.size <= 0.6).all() and (params.start + params.size <= 1 + 1e-6).all()
    expected_first, expected_last = params.start * (frames - 1), (params.start + params.size) * (frames - 1)
    assert torch.allclose(out[:, 0, 0, 0], expected_first, atol=1e-4)
    assert torch.allclose(out[:, -1, 0, 0], expected_last, atol=1e-4)
    assert (out[:, 1:, 0, 0] >= out[:, :-1, 0, 0]).all()  # time runs forward


def test_joint_mask_zeroes_only_the_chosen_joints() -> None:
    x = _joints() + 10.0  # no coordinate is 0 by chance
    mask = SkeletonJointMask(num_joints=(2, 5))
    params = mask.sample(x, generator=_gen())
    counts = params.mask.sum(1)
    assert params.mask.shape == (16, 20) and counts.min() >= 2 and counts.max() <= 5 and counts.unique().numel() > 1
    out = mask.apply(x, params)
    zeroed = (out == 0).all(-1).all(1)  # (B, J): joints zero in every frame
    assert torch.equal(zeroed, params.mask)
    keep = ~params.mask[:, None, :, None].expand_as(x)
    assert torch.equal(out[keep], x[keep])


def test_joint_mask_count_is_capped_at_the_joints() -> None:
    x = torch.ones(4, 3, 5, 3)
    assert (SkeletonJointMask((7, 9))(x, generator=_gen()) == 0).all()


def test_limb_mask_zeroes_exactly_one_body_part() -> None:
    x = _joints() + 10.0
    params = SkeletonLimbMask().sample(x, generator=_gen())
    parts = [set(joints) for joints in F.MSR_ACTION3D.parts.values()]
    chosen = [set(row.nonzero().flatten().tolist()) for row in params.mask]
    assert all(joints in parts for joints in chosen) and len({frozenset(c) for c in chosen}) > 1
    out = SkeletonLimbMask().apply(x, params)
    assert torch.equal((out == 0).all(-1).all(1), params.mask)


def test_limb_mask_with_own_parts_and_two_of_them() -> None:
    x = torch.ones(8, 4, 6, 3)
    mask = SkeletonLimbMask(parts=[[0, 1], [2, 3], [4, 5]], num_parts=2)
    out = mask(x, generator=_gen())
    assert ((out == 0).all(-1).all(1).sum(1) == 4).all()
    assert type(from_dict(mask.to_dict())) is SkeletonLimbMask and from_dict(mask.to_dict()).parts == [[0, 1], [2, 3], [4, 5]]


def test_flip_twice_is_the_identity_and_swaps_sides() -> None:
    x = _joints()
    flip = SkeletonFlip(p=1.0)
    once = flip(x, generator=_gen())
    assert torch.equal(flip(once, generator=_gen()), x)
    left, right = F.MSR_ACTION3D.joint_names.index("left_hand"), F.MSR_ACTION3D.joint_names.index("right_hand")
    assert torch.equal(once[:, :, right, 0], -x[:, :, left, 0]) and torch.equal(once[:, :, right, 1:], x[:, :, left, 1:])


def test_flip_replay_flips_the_same_samples_back() -> None:
    x = _joints()
    flip = SkeletonFlip(p=0.5)
    params = flip.sample(x, generator=_gen())
    assert 0 < int(params.apply.sum()) < 16
    assert torch.equal(flip.apply(flip.apply(x, params), params), x)


def test_flip_takes_a_permutation_and_an_axis() -> None:
    x = _joints()
    kinect = SkeletonFlip("kinect_v1", axis=2, p=1.0)
    out = kinect(x, generator=_gen())
    assert torch.equal(out[..., 2], -x[:, :, list(F.KINECT_V1.mirror), 2])
    explicit = SkeletonFlip(list(F.KINECT_V1.mirror), p=1.0)
    assert torch.equal(explicit(x, generator=_gen())[..., 0], -x[:, :, list(F.KINECT_V1.mirror), 0])
    again = from_dict(explicit.to_dict())
    assert again.permutation == list(F.KINECT_V1.mirror)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: SkeletonRotate(degrees=200), r"degrees=200 must be a number in \[0, 180\]"),
        (lambda: SkeletonRotate(degrees=(1, 2)), "must be a number or"),
        (lambda: SkeletonShear(shear=-0.1), "shear"),
        (lambda: SkeletonScale(scale=(1.2, 0.8)), "min > max"),
        (lambda: SkeletonScale(per_axis="yes"), "per_axis"),
        (lambda: SkeletonJitter(sigma=-1), "sigma"),
        (lambda: SkeletonCropResample(ratio=(0.5, 1.5)), "ratio"),
        (lambda: SkeletonJointMask(num_joints=(3, 1)), "num_joints"),
        (lambda: SkeletonLimbMask(parts="ntu"), "unknown joint layout"),
        (lambda: SkeletonLimbMask(parts=[[0], []]), "parts"),
        (lambda: SkeletonLimbMask(num_parts=6), r"num_parts=6 must be a whole number in \[1, 5\]"),
        (lambda: SkeletonFlip(permutation=[0, 0, 1]), "permutation of 0..J-1"),
        (lambda: SkeletonFlip(permutation=[1, 2, 0]), "swap joints in pairs"),
        (lambda: SkeletonFlip(axis=3), "axis"),
        (lambda: SkeletonRotate(p=2.0), "p=2.0"),
    ],
)
def test_bad_options_fail_in_one_line(build, message) -> None:
    with pytest.raises(AugbenchError, match=message) as info:
        build()
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "transform, joints",
    [(SkeletonFlip(p=1.0), 25), (SkeletonLimbMask(), 15)],
    ids=["flip", "limb_mask"],
)
def test_layout_mismatch_names_the_fix(transform, joints) -> None:
    with pytest.raises(InputValueError, match="layout") as info:
        transform(torch.zeros(2, 4, joints, 3), generator=_gen())
    assert "\n" not in str(info.value)


def test_bad_batches_fail_in_one_line() -> None:
    rotate = SkeletonRotate()
    for bad, message in [
        (torch.zeros(2, 4, 20, 2), "last axis is 2"),
        (torch.zeros(2, 0, 20, 3), "empty"),
        (torch.zeros(2, 4, 20, 3, dtype=torch.int64), "floating"),
        (torch.full((2, 4, 20, 3), float("nan")), "NaN"),
    ]:
        with pytest.raises(AugbenchError, match=message) as info:
            rotate(bad, generator=_gen())
        assert "\n" not in str(info.value)


def test_a_pipeline_of_ops_is_keyed_and_replayable() -> None:
    x = _joints()
    pipeline = Compose([SkeletonRotate(), SkeletonShear(), SkeletonCropResample(), SkeletonJointMask(p=0.5)])
    keys = torch.arange(100, 116)
    whole = pipeline(x, keys=keys, seed=3)
    order = torch.tensor([9, 3, 15])
    assert torch.allclose(pipeline(x[order], keys=keys[order], seed=3), whole[order])
    params = pipeline.sample(x, generator=_gen())
    assert torch.equal(pipeline.apply(x, params), pipeline.apply(x, params))
    assert _differ_per_sample(pipeline(x[:1].expand(4, -1, -1, -1).contiguous(), generator=_gen()))


def test_modality_randaugment_on_skeletons() -> None:
    x = _joints()
    policy = ModalityRandAugment("skeleton", num_ops=2, magnitude=9)
    out = policy(x, generator=_gen())
    assert out.shape == x.shape and not torch.equal(out, x)
    assert torch.equal(ModalityRandAugment("skeleton", magnitude=0)(x, generator=_gen()), x)
    keys = torch.arange(16)
    order = torch.tensor([4, 1, 11])
    assert torch.allclose(policy(x[order], keys=keys[order], seed=1), policy(x, keys=keys, seed=1)[order])
    again = from_dict(policy.to_dict())
    assert torch.equal(again(x, generator=_gen(5)), policy(x, generator=_gen(5)))
    with pytest.raises(ConfigError, match="unknown skeleton ops"):
        ModalityRandAugment("skeleton", ops=["Rotate", "Cutout"])


@pytest.mark.parametrize("p", [1.0, 0.5])
def test_consecutive_linear_ops_fuse_into_one_product(p: float) -> None:
    x = _joints()
    ops = [SkeletonRotate(20, p=p), SkeletonShear(0.4, p=p), SkeletonScale((0.8, 1.2), per_axis=True, p=p)]
    pipeline = Compose(ops)
    params = pipeline.sample(x, generator=_gen())
    sequential = x
    for index, op in enumerate(ops):
        sequential = op.apply(sequential, params[str(index)])
    assert torch.allclose(pipeline.apply(x, params), sequential, atol=1e-5)
    if p < 1:
        skipped = ~(params["0"].apply | params["1"].apply | params["2"].apply)
        assert skipped.any() and torch.equal(pipeline.apply(x, params)[skipped], x[skipped])
