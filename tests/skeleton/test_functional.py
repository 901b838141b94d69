"""The skeleton kernels of ``augbench.functional.skeleton`` and the joint layouts."""

from __future__ import annotations

import pytest
import torch

import augbench.functional.skeleton as F
from augbench.errors import AugbenchError, ConfigError, InputTypeError, InputValueError


def _joints(batch: int = 4, frames: int = 6, joints: int = 20, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(batch, frames, joints, 3, generator=torch.Generator().manual_seed(0)).to(dtype)


def _bone_lengths(joints: torch.Tensor, layout: F.JointLayout = F.MSR_ACTION3D) -> torch.Tensor:
    start, end = zip(*layout.bones)
    return (joints[:, :, list(start)] - joints[:, :, list(end)]).norm(dim=-1)


# -- layouts --------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", list(F.LAYOUTS.values()), ids=list(F.LAYOUTS))
def test_layout_is_a_consistent_tree(layout: F.JointLayout) -> None:
    count = layout.num_joints
    assert count == 20 and len(layout.bones) == count - 1
    reached, frontier = {layout.root}, [layout.root]
    while frontier:  # the bones connect every joint: a tree of J - 1 edges
        joint = frontier.pop()
        for a, b in layout.bones:
            for x, y in ((a, b), (b, a)):
                if x == joint and y not in reached:
                    reached.add(y)
                    frontier.append(y)
    assert reached == set(range(count))
    mirror = layout.mirror
    assert sorted(mirror) == list(range(count)) and all(mirror[mirror[j]] == j for j in range(count))
    assert sum(j != mirror[j] for j in range(count)) == 16  # 8 left-right pairs, 4 centre joints
    parts = [set(joints) for joints in layout.parts.values()]
    assert set().union(*parts) == set(range(count)) and sum(map(len, parts)) == count  # a partition
    mirrored_bones = {frozenset((mirror[a], mirror[b])) for a, b in layout.bones}
    assert mirrored_bones == {frozenset(bone) for bone in layout.bones}  # mirroring maps bones to bones
    assert layout.joint_names[layout.root] == "hip_centre"


def test_msr_layout_is_kinect_v1_reordered() -> None:
    """The MSR bones, named, are exactly the Kinect v1 bones: the name mapping is consistent."""
    msr, kinect = F.MSR_ACTION3D, F.KINECT_V1
    named = lambda layout: {frozenset((layout.joint_names[a], layout.joint_names[b])) for a, b in layout.bones}  # noqa: E731
    assert named(msr) == named(kinect)
    # drawskt.m, 1-based: 20-3 is head-neck, 1-8-10-12 one arm, 6-15-17-19 one leg
    assert (msr.joint_names[19], msr.joint_names[2]) == ("head", "neck")
    assert [msr.joint_names[j - 1] for j in (2, 9, 11, 13)] == ["right_shoulder", "right_elbow", "right_wrist", "right_hand"]
    assert [msr.joint_names[j - 1] for j in (6, 15, 17, 19)] == ["right_hip", "right_knee", "right_ankle", "right_foot"]
    assert [j + 1 for j in msr.mirror] == [2, 1, 3, 4, 6, 5, 7, 9, 8, 11, 10, 13, 12, 15, 14, 17, 16, 19, 18, 20]


def test_unknown_layout_lists_the_choices() -> None:
    with pytest.raises(ConfigError, match="msr_action3d, kinect_v1"):
        F.get_layout("ntu")


# -- linear maps ----------------------------------------------------------------------------------


def test_rotation_matrices_are_rotations() -> None:
    angles = torch.rand(16, 3, generator=torch.Generator().manual_seed(1)) * 6 - 3
    matrix = F.rotation_matrix(angles)
    assert torch.allclose(matrix @ matrix.transpose(1, 2), torch.eye(3).expand(16, 3, 3), atol=1e-6)
    assert torch.allclose(torch.linalg.det(matrix), torch.ones(16), atol=1e-6)


def test_rotation_about_z_by_90_degrees_turns_x_into_y() -> None:
    point = torch.tensor([1.0, 0.0, 0.0]).view(1, 1, 1, 3)
    turned = F.rotate(point, torch.tensor([[0.0, 0.0, 90.0]]))
    assert torch.allclose(turned.flatten(), torch.tensor([0.0, 1.0, 0.0]), atol=1e-6)


def test_rotate_keeps_bone_lengths_and_differs_per_sample() -> None:
    joints = _joints()
    angles = torch.tensor([[10.0, -20.0, 30.0], [0.0, 90.0, 0.0], [-45.0, 0.0, 5.0], [170.0, 60.0, -120.0]])
    rotated = F.rotate(joints, angles)
    assert rotated.shape == joints.shape and rotated.dtype == joints.dtype
    assert torch.allclose(_bone_lengths(rotated), _bone_lengths(joints), atol=1e-5)
    assert torch.allclose(rotated.norm(dim=-1), joints.norm(dim=-1), atol=1e-5)  # about the origin
    single = torch.stack([F.rotate(joints[i : i + 1], angles[i : i + 1])[0] for i in range(4)])
    assert torch.allclose(rotated, single, atol=1e-6)


def test_zero_parameters_are_the_identity() -> None:
    joints = _joints()
    assert torch.equal(F.rotate(joints, torch.zeros(4, 3)), joints)
    assert torch.equal(F.shear(joints, torch.zeros(4, 6)), joints)
    assert torch.equal(F.scale(joints, 1.0), joints)
    assert torch.equal(F.jitter(joints, torch.randn(joints.shape), 0.0), joints)
    assert torch.equal(F.crop_resample(joints, 0.0, 1.0), joints)
    assert torch.equal(F.mask_joints(joints, torch.zeros(4, 20, dtype=torch.bool)), joints)


def test_shear_matrix_places_the_factors_off_the_diagonal() -> None:
    factors = torch.arange(1.0, 7.0).view(1, 6)
    expected = torch.tensor([[1.0, 1.0, 2.0], [3.0, 1.0, 4.0], [5.0, 6.0, 1.0]])
    assert torch.equal(F.shear_matrix(factors)[0], expected)
    point = torch.tensor([1.0, 2.0, 3.0]).view(1, 1, 1, 3)
    assert torch.allclose(F.shear(point, factors).flatten(), expected @ torch.tensor([1.0, 2.0, 3.0]))


def test_scale_per_sample_and_per_axis() -> None:
    joints = _joints(batch=2)
    assert torch.allclose(F.scale(joints, torch.tensor([2.0, 0.5])), joints * torch.tensor([2.0, 0.5]).view(2, 1, 1, 1))
    per_axis = torch.tensor([[1.0, 2.0, 3.0], [0.5, 0.5, 0.5]])
    assert torch.allclose(F.scale(joints, per_axis), joints * per_axis[:, None, None, :])


def test_float64_stays_float64() -> None:
    joints = _joints(dtype=torch.float64)
    assert F.rotate(joints, torch.ones(4, 3)).dtype == torch.float64
    assert F.crop_resample(joints, 0.1, 0.5).dtype == torch.float64


# -- time, noise, masks, flip ---------------------------------------------------------------------


def test_crop_resample_interpolates_linearly_and_keeps_T() -> None:
    frames = 9
    ramp = torch.arange(frames, dtype=torch.float32).view(1, frames, 1, 1).expand(2, frames, 20, 3).contiguous()
    out = F.crop_resample(ramp, torch.tensor([0.25, 0.0]), torch.tensor([0.5, 0.25]))
    assert out.shape == ramp.shape
    # sample 0: times 0.25 .. 0.75 of 8 intervals = frames 2 .. 6; sample 1: frames 0 .. 2
    assert torch.allclose(out[0, :, 0, 0], torch.linspace(2.0, 6.0, frames))
    assert torch.allclose(out[1, :, 0, 0], torch.linspace(0.0, 2.0, frames))


def test_crop_resample_single_frame_and_clamping() -> None:
    one = _joints(frames=1)
    assert torch.equal(F.crop_resample(one, 0.3, 0.5), one)
    joints = _joints()
    assert torch.equal(F.crop_resample(joints, 1.0, 1.0), joints[:, -1:].expand_as(joints))  # clamped to the last frame


def test_jitter_adds_scaled_noise() -> None:
    joints = _joints()
    noise = torch.randn(joints.shape, generator=torch.Generator().manual_seed(3))
    sigma = torch.tensor([0.0, 0.1, 0.2, 0.3])
    assert torch.allclose(F.jitter(joints, noise, sigma), joints + sigma.view(4, 1, 1, 1) * noise)


def test_mask_joints_zeroes_only_the_chosen_joints() -> None:
    joints = _joints()
    mask = torch.zeros(4, 20, dtype=torch.bool)
    mask[0, [1, 5]] = True
    mask[2, 19] = True
    out = F.mask_joints(joints, mask)
    assert (out[mask[:, None, :].expand(-1, joints.shape[1], -1)] == 0).all()
    keep = ~mask[:, None, :, None].expand_as(joints)
    assert torch.equal(out[keep], joints[keep])


def test_flip_mirrors_and_twice_is_the_identity() -> None:
    joints = _joints()
    permutation = torch.tensor(F.MSR_ACTION3D.mirror)
    once = F.flip(joints, permutation)
    assert torch.equal(once[..., 0], -joints[:, :, permutation, 0])
    assert torch.equal(once[..., 1:], joints[:, :, permutation, 1:])
    assert torch.equal(F.flip(once, permutation), joints)
    # each bone keeps its length, moved to its mirror bone: the same lengths, permuted
    assert torch.allclose(_bone_lengths(once).sort(-1).values, _bone_lengths(joints).sort(-1).values)


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: F.rotate(torch.zeros(2, 5, 20), torch.zeros(2, 3)), InputValueError, r"\(B, T, J, 3\)"),
        (lambda: F.rotate(torch.zeros(2, 5, 20, 3, dtype=torch.int64), torch.zeros(2, 3)), InputTypeError, "float"),
        (lambda: F.rotate([[0.0]], torch.zeros(2, 3)), InputTypeError, "tensor"),
        (lambda: F.rotate(torch.zeros(2, 5, 20, 3), torch.zeros(3, 3)), InputValueError, "one row per sample"),
        (lambda: F.linear_transform(torch.zeros(2, 5, 20, 3), torch.zeros(2, 2, 2)), InputValueError, r"\(2, 3, 3\)"),
        (lambda: F.jitter(torch.zeros(2, 5, 20, 3), torch.zeros(2, 5, 20), 0.1), InputValueError, "noise"),
        (lambda: F.mask_joints(torch.zeros(2, 5, 20, 3), torch.zeros(2, 19, dtype=torch.bool)), InputValueError, "bool"),
        (lambda: F.flip(torch.zeros(2, 5, 25, 3), torch.tensor(F.MSR_ACTION3D.mirror)), InputValueError, "mirror permutation"),
        (lambda: F.flip(torch.zeros(2, 5, 20, 3), torch.tensor(F.MSR_ACTION3D.mirror), axis=3), InputValueError, "axis"),
    ],
)


def test_bad_input_is_one_line(call, error, message) -> None:
    with pytest.raises(error, match=message) as info:
        call()
    assert isinstance(info.value, AugbenchError) and "\n" not in str(info.value)


def test_empty_batch() -> None:
    empty = torch.zeros(0, 5, 20, 3)
    assert F.rotate(empty, torch.zeros(0, 3)).shape == empty.shape
    assert F.crop_resample(empty, torch.zeros(0), torch.ones(0)).shape == empty.shape
    assert F.flip(empty, torch.tensor(F.MSR_ACTION3D.mirror)).shape == empty.shape
