"""Skeleton kernels: a ``(B, T, J, 3)`` float batch of joint coordinates plus per-sample parameters.

Conventions shared by every kernel here:

* **Pure**: no randomness; random numbers (angles, noise, windows, masks) come in as arguments,
  one row per sample, so a draw can be replayed. No Python loop over the samples.
* **Layout**: ``(B, T, J, 3)``: ``B`` sequences of ``T`` frames of ``J`` joints, each joint
  ``(x, y, z)``. The bundled loaders give metres, ``x`` horizontal, ``y`` up, ``z`` depth,
  centred on the hip centre of the first frame, so the geometric ops act about the body.
* **Linear ops** (rotation, shear, scaling) map every joint by a per-sample ``(B, 3, 3)``
  matrix ``M``: ``x' = M x`` about the origin, one batched matrix product.
* float32 arithmetic (float64 stays float64); the result has the input's dtype and shape.

The joint layouts (:data:`LAYOUTS`) hold what depends on the skeleton: joint names, bones,
the left-right permutation of :func:`flip` and the body parts of limb masking.

References: Rao et al., "Augmented skeleton based contrastive action learning with momentum
LSTM", Information Sciences 2021 (rotation, shear, joint and temporal masking for SSL); Li et al.,
"3D human action representation learning via cross-view consistency pursuit" (CrosSCLR), CVPR
2021 and Guo et al., "Contrastive learning from extremely augmented skeleton sequences"
(AimCLR), AAAI 2022 (shear factors in [-s, s], s = 0.5; temporal crop and resize, spatial flip,
body-part masking).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import torch
from torch import Tensor

from augbench.errors import ConfigError, InputTypeError, InputValueError

__all__ = [
    "JointLayout",
    "MSR_ACTION3D",
    "KINECT_V1",
    "LAYOUTS",
    "get_layout",
    "rotation_matrix",
    "shear_matrix",
    "linear_transform",
    "rotate",
    "shear",
    "scale",
    "jitter",
    "crop_resample",
    "mask_joints",
    "flip",
]

PerSample = Union[float, Tensor]
"""A number for every sample, or a ``(B,)`` tensor with one value per sample."""


# -- joint layouts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class JointLayout:
    """What the ops need to know about one skeleton's joints (all indices 0-based).

    Attributes:
        name: registry name (``"msr_action3d"``).
        joint_names: one name per joint, in storage order (``left_`` / ``right_`` are the
            subject's own sides).
        bones: joint index pairs, for stick figures and models.
        mirror: the left-right permutation: joint ``j`` of a mirrored skeleton is joint
            ``mirror[j]`` of the input (pairs swapped, centre joints fixed; an involution).
        parts: body part name -> its joints, for limb masking.
        root: the joint the loaders centre on (the hip centre).
    """

    name: str
    joint_names: tuple[str, ...]
    bones: tuple[tuple[int, int], ...]
    mirror: tuple[int, ...]
    parts: dict[str, tuple[int, ...]]
    root: int

    @property
    def num_joints(self) -> int:
        """``J``, the number of joints."""
        return len(self.joint_names)


def _mirror(names: tuple[str, ...]) -> tuple[int, ...]:
    """The permutation swapping every ``left_X`` with ``right_X`` (other joints fixed)."""
    index = {name: position for position, name in enumerate(names)}
    swap = {"left_": "right_", "right_": "left_"}
    return tuple(
        next((index[swap[side] + name[len(side):]] for side in swap if name.startswith(side)), position)
        for position, name in enumerate(names)
    )


def _parts(names: tuple[str, ...]) -> dict[str, tuple[int, ...]]:
    """Five body parts (trunk, two arms, two legs) found by joint name."""
    groups = {
        "trunk": ("head", "neck", "spine", "hip_centre"),
        "left_arm": ("left_shoulder", "left_elbow", "left_wrist", "left_hand"),
        "right_arm": ("right_shoulder", "right_elbow", "right_wrist", "right_hand"),
        "left_leg": ("left_hip", "left_knee", "left_ankle", "left_foot"),
        "right_leg": ("right_hip", "right_knee", "right_ankle", "right_foot"),
    }
    return {part: tuple(sorted(names.index(joint) for joint in joints)) for part, joints in groups.items()}


_MSR_NAMES = (
    "left_shoulder", "right_shoulder", "neck", "spine", "left_hip", "right_hip", "hip_centre",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
    "left_knee", "right_knee", "left_ankle", "right_ankle", "left_foot", "right_foot", "head",
)
# drawskt.m's bones of MSR Action3D, 1-based: 20-3 1-3 2-3 1-8 8-10 10-12 2-9 9-11 11-13 3-4 4-7
# 7-5 7-6 5-14 6-15 14-16 15-17 16-18 17-19.
_MSR_BONES_1 = ((20, 3), (1, 3), (2, 3), (1, 8), (8, 10), (10, 12), (2, 9), (9, 11), (11, 13), (3, 4), (4, 7),
                (7, 5), (7, 6), (5, 14), (6, 15), (14, 16), (15, 17), (16, 18), (17, 19))

MSR_ACTION3D = JointLayout(
    "msr_action3d", _MSR_NAMES, tuple((a - 1, b - 1) for a, b in _MSR_BONES_1), _mirror(_MSR_NAMES),
    _parts(_MSR_NAMES), root=_MSR_NAMES.index("hip_centre"),
)
"""The 20 joints of MSR Action3D (``MSRAction3DSkeletonReal3D``), worked out from the bones.

The bones of the dataset's ``drawskt.m`` (1-based) give the tree: joint 3 meets the head (20),
both shoulders (1, 2) and the spine (4); 4 leads to the hip centre 7, which meets both hips
(5, 6); the arm chains are 1-8-10-12 and 2-9-11-13 (shoulder, elbow, wrist, hand), the leg
chains 5-14-16-18 and 6-15-17-19 (hip, knee, ankle, foot). These are the 20 joints of the
Kinect SDK v1 in another order; 0-based MSR index -> Kinect v1 index (:data:`KINECT_V1`):

====================  ==========  =====  ====================  ==========  =====
joint                 MSR (0-b.)  v1     joint                 MSR (0-b.)  v1
====================  ==========  =====  ====================  ==========  =====
left_shoulder         0           4      left_wrist            9           6
right_shoulder        1           8      right_wrist           10          10
neck (shoulder ctr)   2           2      left_hand             11          7
spine                 3           1      right_hand            12          11
left_hip              4           12     left_knee             13          13
right_hip             5           16     right_knee            14          17
hip_centre            6           0      left_ankle            15          14
left_elbow            7           5      right_ankle           16          18
right_elbow           8           9      left_foot             17          15
head                  19          3      right_foot            18          19
====================  ==========  =====  ====================  ==========  =====

Which chain is the subject's right: the dataset asked subjects to use the right arm or leg for
one-limb actions, and on the 567 files the moving hand of a01/a02/a05 (high and horizontal
wave, punch) is joint 13 (per-axis standard deviations over a sequence summing to 0.65-0.78 m
on average, against 0.09-0.12 m for joint 12) and the moving foot of a14/a15 (kicks) is joint
17 (0.48-0.56 m against 0.13-0.21 m for joint 16); the
right side also sits at larger ``x`` (x points to the camera's left). So the even 1-based
joints 2, 6, 9, 11, 13, 15, 17, 19 are the right side. The mirror permutation swaps
(1, 2), (5, 6), (8, 9), (10, 11), (12, 13), (14, 15), (16, 17), (18, 19) (1-based) and keeps
3, 4, 7, 20; only the pairing matters to a flip, not which member is left.
"""

_KINECT_NAMES = (
    "hip_centre", "spine", "neck", "head",
    "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_foot",
    "right_hip", "right_knee", "right_ankle", "right_foot",
)
_KINECT_BONES = ((0, 1), (1, 2), (2, 3), (2, 4), (4, 5), (5, 6), (6, 7), (2, 8), (8, 9), (9, 10), (10, 11),
                 (0, 12), (12, 13), (13, 14), (14, 15), (0, 16), (16, 17), (17, 18), (18, 19))

KINECT_V1 = JointLayout(
    "kinect_v1", _KINECT_NAMES, _KINECT_BONES, _mirror(_KINECT_NAMES), _parts(_KINECT_NAMES),
    root=_KINECT_NAMES.index("hip_centre"),
)
"""The 20 joints of the Kinect SDK v1 (``NUI_SKELETON_POSITION_*`` order: hip centre, spine,
shoulder centre ("neck"), head, left arm, right arm, left leg, right leg), as in UTKinect-Action3D.
Checked on UTKinect's 20 files: the bone lengths of this tree are steady (e.g. thigh 0.48 m,
shin 0.38 m, std <= 0.065 m) and each left joint's mirror has the same mean bone length."""

LAYOUTS: dict[str, JointLayout] = {layout.name: layout for layout in (MSR_ACTION3D, KINECT_V1)}
"""The named joint layouts."""


def get_layout(name: str) -> JointLayout:
    """The layout ``name``; one line listing the choices for an unknown one."""
    if name not in LAYOUTS:
        raise ConfigError(f"unknown joint layout {name!r}; choose from {', '.join(LAYOUTS)} or pass the indices")
    return LAYOUTS[name]


# -- checks ---------------------------------------------------------------------------------------


def _check_joints(joints: object, who: str) -> Tensor:
    """``joints`` if it is a ``(B, T, J, 3)`` floating tensor, else one line naming the fix."""
    if not isinstance(joints, Tensor):
        raise InputTypeError(f"{who}: expected a (B, T, J, 3) float tensor of joints, got {type(joints).__name__}")
    if joints.ndim != 4 or joints.shape[-1] != 3:
        raise InputValueError(
            f"{who}: skeleton batches are (B, T, J, 3) (frames, joints, xyz), got shape {tuple(joints.shape)}"
        )
    if not joints.is_floating_point():
        raise InputTypeError(f"{who}: joint coordinates must be floating point, got {joints.dtype}; use .float()")
    return joints


def _per_sample(value: PerSample, joints: Tensor, name: str, trailing: tuple[int, ...] = ()) -> Tensor:
    """``value`` as a ``(B, *trailing)`` tensor in the joints' compute dtype and device.

    A number (or 0-d tensor) is broadcast; a tensor must be ``(B,)`` or ``(B, *trailing)``."""
    batch, dtype = joints.shape[0], _dtype(joints)
    full = (batch, *trailing)
    if not isinstance(value, Tensor):
        return torch.full(full, float(value), dtype=dtype, device=joints.device)
    value = value.to(joints.device, dtype)
    if value.ndim == 0:
        return value.expand(full)
    if value.shape == (batch,) and trailing:
        return value.view(batch, *([1] * len(trailing))).expand(full)
    if tuple(value.shape) != full:
        raise InputValueError(
            f"{name} has shape {tuple(value.shape)}, expected ({batch},) or {full} for this batch; one row per sample"
        )
    return value


def _dtype(joints: Tensor) -> torch.dtype:
    return torch.float64 if joints.dtype == torch.float64 else torch.float32


# -- linear maps ----------------------------------------------------------------------------------


def rotation_matrix(angles: Tensor) -> Tensor:
    """Per-sample rotation matrices ``R = Rz(c) @ Ry(b) @ Rx(a)`` from ``(B, 3)`` angles.

    Args:
        angles: ``(B, 3)`` float, the angles ``(a, b, c)`` about the x, y and z axes in radians
            (right-handed: positive turns y towards z about x, z towards x about y, x towards y
            about z), applied x first.

    Returns:
        ``(B, 3, 3)`` orthonormal matrices with determinant 1, same dtype as ``angles``.
    """
    cos, sin = angles.cos(), angles.sin()
    one, zero = torch.ones_like(cos[:, 0]), torch.zeros_like(cos[:, 0])

    def matrix(rows: list[list[Tensor]]) -> Tensor:
        return torch.stack([torch.stack(row, -1) for row in rows], -2)

    ca, cb, cc = cos.unbind(1)
    sa, sb, sc = sin.unbind(1)
    rx = matrix([[one, zero, zero], [zero, ca, -sa], [zero, sa, ca]])
    ry = matrix([[cb, zero, sb], [zero, one, zero], [-sb, zero, cb]])
    rz = matrix([[cc, -sc, zero], [sc, cc, zero], [zero, zero, one]])
    return rz @ ry @ rx


def shear_matrix(factors: Tensor) -> Tensor:
    """Per-sample shear matrices: ones on the diagonal, the six ``factors`` off it.

    Args:
        factors: ``(B, 6)`` float, the entries ``M[0,1], M[0,2], M[1,0], M[1,2], M[2,0],
            M[2,1]`` (so ``x' = x + f0 y + f1 z``, ``y' = f2 x + y + f3 z``, ``z' = f4 x + f5 y + z``),
            the shear of the skeleton-contrastive papers.

    Returns:
        ``(B, 3, 3)``, same dtype as ``factors``.
    """
    batch = factors.shape[0]
    matrix = torch.eye(3, dtype=factors.dtype, device=factors.device).repeat(batch, 1, 1)
    rows, cols = (0, 0, 1, 1, 2, 2), (1, 2, 0, 2, 0, 1)
    matrix[:, rows, cols] = factors
    return matrix


def linear_transform(joints: Tensor, matrices: Tensor) -> Tensor:
    """Map every joint of sample ``b`` by ``matrices[b]``: ``x' = M x`` about the origin.

    Args:
        joints: ``(B, T, J, 3)`` float.
        matrices: ``(B, 3, 3)`` float, one matrix per sample.

    Shape:
        ``(B, T, J, 3)`` -> same shape and dtype (computed in float32, float64 kept).
    """
    joints = _check_joints(joints, "linear_transform")
    batch = joints.shape[0]
    if not isinstance(matrices, Tensor) or tuple(matrices.shape) != (batch, 3, 3):
        got = tuple(matrices.shape) if isinstance(matrices, Tensor) else type(matrices).__name__
        raise InputValueError(f"linear_transform: matrices must be ({batch}, 3, 3), one per sample, got {got}")
    dtype = _dtype(joints)
    points = joints.to(dtype).reshape(batch, joints.shape[1] * joints.shape[2], 3)
    moved = torch.bmm(points, matrices.to(joints.device, dtype).transpose(1, 2))
    return moved.view(joints.shape).to(joints.dtype)


def rotate(joints: Tensor, angles: Tensor) -> Tensor:
    """Rotate each sample about the origin by its ``(B, 3)`` angles in **degrees** (x, y, z axes,
    applied x first; see :func:`rotation_matrix`). Bone lengths are kept.

    Shape:
        ``(B, T, J, 3)`` -> same shape and dtype.
    """
    joints = _check_joints(joints, "rotate")
    radians = torch.deg2rad(_per_sample(angles, joints, "rotate: angles", (3,)))
    return linear_transform(joints, rotation_matrix(radians))


def shear(joints: Tensor, factors: Tensor) -> Tensor:
    """Shear each sample by its ``(B, 6)`` off-diagonal ``factors`` (see :func:`shear_matrix`).

    Shape:
        ``(B, T, J, 3)`` -> same shape and dtype.
    """
    joints = _check_joints(joints, "shear")
    return linear_transform(joints, shear_matrix(_per_sample(factors, joints, "shear: factors", (6,))))


def scale(joints: Tensor, factors: PerSample) -> Tensor:
    """Scale each sample about the origin: one factor per sample ``(B,)`` or per axis ``(B, 3)``.

    Shape:
        ``(B, T, J, 3)`` -> same shape and dtype.
    """
    joints = _check_joints(joints, "scale")
    per_axis = _per_sample(factors, joints, "scale: factors", (3,))
    return (joints.to(per_axis.dtype) * per_axis[:, None, None, :]).to(joints.dtype)


# -- noise, time and masks ------------------------------------------------------------------------


def jitter(joints: Tensor, noise: Tensor, sigma: PerSample) -> Tensor:
    """Add Gaussian noise per joint and frame: ``x + sigma * noise``.

    Args:
        joints: ``(B, T, J, 3)`` float.
        noise: ``(B, T, J, 3)`` standard normal numbers (drawn by the caller).
        sigma: standard deviation in the data's units (metres for the bundled loaders), a
            number or ``(B,)``.

    Shape:
        ``(B, T, J, 3)`` -> same shape and dtype.
    """
    joints = _check_joints(joints, "jitter")
    if not isinstance(noise, Tensor) or noise.shape != joints.shape:
        got = tuple(noise.shape) if isinstance(noise, Tensor) else type(noise).__name__
        raise InputValueError(f"jitter: noise must have the joints' shape {tuple(joints.shape)}, got {got}")
    std = _per_sample(sigma, joints, "jitter: sigma")
    dtype = std.dtype
    return (joints.to(dtype) + std.view(-1, 1, 1, 1) * noise.to(joints.device, dtype)).to(joints.dtype)


def crop_resample(joints: Tensor, start: PerSample, size: PerSample) -> Tensor:
    """Crop a window of each sequence and resample it back to ``T`` frames by linear interpolation.

    Time runs over ``[0, 1]`` from the first to the last frame (``T - 1`` frame intervals). The
    window of sample ``b`` is ``[start[b], start[b] + size[b]]``; output frame ``i`` is the
    input at time ``start + size * i / (T - 1)``, interpolated linearly between the two nearest
    frames (``start = 0, size = 1`` is the identity). The two neighbouring frames of every output
    frame are read as whole rows of ``J * 3`` values, in one ``index_select`` for the batch.

    Args:
        joints: ``(B, T, J, 3)`` float.
        start: window start in ``[0, 1 - size]``, a number or ``(B,)``.
        size: window length as a fraction of the sequence duration, in ``(0, 1]``, a number or ``(B,)``.
            Times outside ``[0, 1]`` are clamped to the first or last frame (no check, so no
            host synchronisation).

    Shape:
        ``(B, T, J, 3)`` -> same shape and dtype.
    """
    joints = _check_joints(joints, "crop_resample")
    batch, frames = joints.shape[:2]
    first = _per_sample(start, joints, "crop_resample: start")
    span = _per_sample(size, joints, "crop_resample: size")
    if frames == 1:
        return joints.clone()
    steps = torch.arange(frames, device=joints.device, dtype=first.dtype)
    position = (first[:, None] * (frames - 1) + span[:, None] * steps).clamp_(0, frames - 1)  # (B, T) frames
    low = position.floor().long().clamp_(max=frames - 2)
    weight = (position - low).to(_dtype(joints))[:, :, None, None]
    rows = joints.to(_dtype(joints)).reshape(batch * frames, joints.shape[2] * 3)  # one row per frame
    row = low + torch.arange(batch, device=joints.device)[:, None] * frames
    pairs = rows.index_select(0, torch.stack([row, row + 1], -1).view(-1)).view(batch, frames, 2, *joints.shape[2:])
    return torch.lerp(pairs[:, :, 0], pairs[:, :, 1], weight).to(joints.dtype)


def mask_joints(joints: Tensor, mask: Tensor) -> Tensor:
    """Zero the chosen joints of each sample in every frame (joint masking, body-part masking).

    Args:
        joints: ``(B, T, J, 3)`` float.
        mask: ``(B, J)`` bool, ``True`` for a joint to zero.

    Shape:
        ``(B, T, J, 3)`` -> same shape and dtype.
    """
    joints = _check_joints(joints, "mask_joints")
    expected = (joints.shape[0], joints.shape[2])
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool or tuple(mask.shape) != expected:
        got = f"{mask.dtype} {tuple(mask.shape)}" if isinstance(mask, Tensor) else type(mask).__name__
        raise InputValueError(f"mask_joints: mask must be a {expected} bool tensor (batch, joints), got {got}")
    return joints.masked_fill(mask.to(joints.device)[:, None, :, None], 0.0)


def flip(joints: Tensor, permutation: Tensor, axis: int = 0) -> Tensor:
    """Mirror the skeletons: negate coordinate ``axis`` and swap left and right joints.

    Args:
        joints: ``(B, T, J, 3)`` float.
        permutation: ``(J,)`` int64, joint ``j`` of the output is joint ``permutation[j]`` of the
            input (a layout's :attr:`JointLayout.mirror`). Mirroring twice is the identity when
            the permutation is an involution, as a left-right swap is.
        axis: the coordinate to negate, 0 (x, horizontal for the bundled loaders), 1 or 2.

    Shape:
        ``(B, T, J, 3)`` -> same shape and dtype.
    """
    joints = _check_joints(joints, "flip")
    if not isinstance(permutation, Tensor) or permutation.shape != (joints.shape[2],):
        got = tuple(permutation.shape) if isinstance(permutation, Tensor) else type(permutation).__name__
        raise InputValueError(
            f"flip: permutation must be a ({joints.shape[2]},) index tensor, one entry per joint, got {got}; "
            "pass the mirror permutation of this joint layout"
        )
    if axis not in (0, 1, 2):
        raise InputValueError(f"flip: axis={axis!r} must be 0 (x), 1 (y) or 2 (z)")
    sign = torch.ones(3, dtype=joints.dtype, device=joints.device)
    sign[axis] = -1.0
    return joints.index_select(2, permutation.to(joints.device)) * sign
