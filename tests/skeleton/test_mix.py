"""Skeleton Mixup and temporal CutMix."""

from __future__ import annotations

import pytest
import torch

from augbench.errors import AugbenchError
from augbench.mix import MIXERS, Mixer, SkeletonCutMix, SkeletonMixup


def _batch(batch: int = 8, frames: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    joints = torch.randn(batch, frames, 20, 3, generator=torch.Generator().manual_seed(0))
    return joints, torch.arange(batch) % 3


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_registered_for_the_skeleton_modality() -> None:
    for name in ("skeleton_mixup", "skeleton_cutmix"):
        mixer = MIXERS.build(name, num_classes=3)
        assert mixer.modality == "skeleton"
        assert type(Mixer.from_dict(mixer.to_dict())) is type(mixer)


def test_mixup_blends_joints_and_labels_with_one_weight() -> None:
    joints, labels = _batch()
    result = SkeletonMixup(num_classes=3, alpha=0.5)(joints, labels, generator=_gen())
    lam = result.lam.view(-1, 1, 1, 1)
    assert torch.allclose(result.inputs, lam * joints + (1 - lam) * joints[result.index], atol=1e-6)
    expected = result.lam[:, None] * torch.eye(3)[labels] + (1 - result.lam[:, None]) * torch.eye(3)[labels[result.index]]
    assert torch.allclose(result.targets, expected)
    assert (result.index != torch.arange(8)).all()  # partners are other samples


def test_cutmix_pastes_one_span_of_frames_and_weights_by_it() -> None:
    joints, labels = _batch(frames=20)
    mixer = SkeletonCutMix(num_classes=3)
    params = mixer.sample(joints, labels, generator=_gen())
    result = mixer.apply(joints, labels, params)
    own = (result.inputs == joints).flatten(2).all(2)  # (B, T): frames kept whole
    pasted = (result.inputs == joints[result.index]).flatten(2).all(2)
    assert (own | pasted).all()
    assert torch.allclose(result.lam, own.float().mean(1))
    spans = (~own).int().diff(dim=1).abs().sum(1)
    assert (spans <= 2).all()  # one contiguous span of pasted frames
    assert torch.equal(mixer.apply(joints, labels, params).inputs, result.inputs)  # replay


def test_odd_batches_one_sample_and_empty() -> None:
    joints, labels = _batch(batch=5)
    assert SkeletonCutMix(num_classes=3)(joints, labels, generator=_gen()).inputs.shape == joints.shape
    one = SkeletonMixup(num_classes=3)(joints[:1], labels[:1], generator=_gen())
    assert torch.equal(one.inputs, joints[:1])
    assert SkeletonMixup(num_classes=3)(joints[:0], labels[:0], generator=_gen()).inputs.shape[0] == 0


@pytest.mark.parametrize("mixer", [SkeletonMixup(num_classes=3), SkeletonCutMix(num_classes=3)], ids=["mixup", "cutmix"])
def test_bad_batches_fail_in_one_line(mixer: Mixer) -> None:
    joints, labels = _batch()
    with pytest.raises(AugbenchError, match="skeleton") as info:
        mixer(joints[..., :2], labels, generator=_gen())
    assert "\n" not in str(info.value)
    bad = joints.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(AugbenchError, match="NaN"):
        mixer(bad, labels, generator=_gen())
