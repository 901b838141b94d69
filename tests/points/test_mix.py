"""point_mixup and point_cutmix: end points, the assignment, the exact label weight, the Mixer contract."""

from __future__ import annotations

import pytest
import torch

import augbench.functional.points as F
from augbench.errors import AugbenchError
from augbench.mix import MIXERS, Mixer, PointCutMix, PointMixup
from augbench.random import Params

NAMES = ["point_mixup", "point_cutmix"]


def _clouds(batch: int = 6, size: int = 128, features: int = 0, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, size, 3 + features, generator=torch.Generator().manual_seed(seed))


def _labels(batch: int = 6) -> torch.Tensor:
    return torch.arange(batch) % 3


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _sorted_rows(points: torch.Tensor) -> torch.Tensor:
    """Each cloud's points in lexicographic order (to compare clouds up to point order)."""
    out = []
    for cloud in points.double():
        order = torch.arange(len(cloud))
        for column in reversed(range(cloud.shape[1])):
            order = order[torch.argsort(cloud[order, column], stable=True)]
        out.append(cloud[order])
    return torch.stack(out)


def _with_lam(params: Params, value: float) -> Params:
    entries = dict(params)
    entries["lam"] = torch.full_like(params.lam, value)
    return Params(params.batch_size, **entries)


# -- PointMixup -------------------------------------------------------------------------------------


def test_mixup_end_points_are_the_sample_and_the_partner() -> None:
    clouds, labels = _clouds(features=2), _labels()
    mixer = PointMixup(num_classes=3)
    params = mixer.sample(clouds, labels, generator=_gen())
    one = mixer.apply(clouds, labels, _with_lam(params, 1.0))
    assert torch.equal(one.inputs, clouds)
    zero = mixer.apply(clouds, labels, _with_lam(params, 0.0))
    partners = clouds[params.index]
    assert torch.equal(_sorted_rows(zero.inputs), _sorted_rows(partners))  # the partner, up to point order
    assert torch.allclose(zero.targets, torch.nn.functional.one_hot(labels[params.index], 3).float())


def test_mixup_interpolates_along_a_permutation() -> None:
    clouds, labels = _clouds(), _labels()
    mixer = PointMixup(num_classes=3)
    params = mixer.sample(clouds, labels, generator=_gen())
    result = mixer.apply(clouds, labels, params)
    partners = clouds[params.index]
    assignment = F.approximate_assignment(clouds, partners, params.directions)
    assert torch.equal(assignment.sort(1).values, torch.arange(128).expand(6, -1))
    lam = params.lam.view(-1, 1, 1)
    expected = lam * clouds + (1 - lam) * F.gather_points(partners, assignment)
    assert torch.allclose(result.inputs, expected, atol=1e-6)
    assert torch.allclose(result.lam, params.lam)
    assert torch.allclose(result.targets.sum(1), torch.ones(6))


def test_assignment_is_close_to_the_optimal_one() -> None:
    optimize = pytest.importorskip("scipy.optimize")
    source, target = _clouds(batch=8, size=96, seed=1), _clouds(batch=8, size=96, seed=2)
    directions = torch.randn(8, 16, 3, generator=_gen())
    assignment = F.approximate_assignment(source, target, directions)
    ours = F.assignment_cost(source, target, assignment)
    best = []
    for b in range(8):
        cost = torch.cdist(source[b].double(), target[b].double()).square().numpy()
        rows, cols = optimize.linear_sum_assignment(cost)
        best.append(cost[rows, cols].mean())
    ratio = ours.double() / torch.tensor(best)
    keep_order = F.assignment_cost(source, target, torch.arange(96).expand(8, -1))
    assert ratio.min() >= 1 - 1e-6  # never better than optimal: the cost is computed right
    assert ratio.mean() < 1.6
    assert (ours < 0.5 * keep_order).all()


def test_swaps_only_lower_the_cost() -> None:
    source, target = _clouds(batch=4, size=64, seed=3), _clouds(batch=4, size=64, seed=4)
    one = F.approximate_assignment(source, target, torch.randn(4, 1, 3, generator=_gen()))
    sliced, _ = F._matching_along(source, target, torch.randn(4, 1, 3, generator=_gen()))
    assert (F.assignment_cost(source, target, one) <= F.assignment_cost(source, target, sliced[:, 0]) + 1e-6).all()


def test_identical_clouds_match_exactly() -> None:
    clouds = _clouds(batch=3, size=64)
    shuffled = clouds[:, torch.randperm(64, generator=_gen())]
    assignment = F.approximate_assignment(clouds, shuffled, torch.randn(3, 8, 3, generator=_gen()))
    assert torch.allclose(F.gather_points(shuffled, assignment), clouds)


# -- PointCutMix ------------------------------------------------------------------------------------


def test_cutmix_label_weight_is_the_share_of_points_kept() -> None:
    clouds, labels = _clouds(size=100), _labels()
    mixer = PointCutMix(num_classes=3)
    params = mixer.sample(clouds, labels, generator=_gen())
    result = mixer.apply(clouds, labels, params)
    kept = (result.inputs == clouds).all(-1).float().mean(1)
    assert torch.allclose(result.lam, kept)
    count = torch.round((1 - params.lam) * 100)
    assert torch.allclose(result.lam, 1 - count / 100)
    one_hot = torch.nn.functional.one_hot
    weight = result.lam[:, None]
    expected = weight * one_hot(labels, 3) + (1 - weight) * one_hot(labels[params.index], 3)
    assert torch.allclose(result.targets, expected.float())


def test_cutmix_exchanges_the_neighbourhoods_of_the_centre() -> None:
    clouds, labels = _clouds(size=100, features=1), _labels()
    mixer = PointCutMix(num_classes=3)
    params = mixer.sample(clouds, labels, generator=_gen(1))
    result = mixer.apply(clouds, labels, params)
    partners = clouds[params.index]
    for b in range(len(clouds)):
        centre = clouds[b, min(int(params.centre[b] * 100), 99), :3]
        k = int(round((1 - float(params.lam[b])) * 100))
        replaced = ~(result.inputs[b] == clouds[b]).all(-1)
        mine = (clouds[b, :, :3] - centre).norm(dim=-1)
        theirs = (partners[b, :, :3] - centre).norm(dim=-1)
        assert int(replaced.sum()) == k
        if 0 < k < 100:
            assert mine[replaced].max() <= mine[~replaced].min()  # the sample's k nearest were replaced
        pasted = result.inputs[b][replaced]
        nearest = partners[b][theirs.argsort()[:k]]
        assert torch.equal(_sorted_rows(pasted[None]), _sorted_rows(nearest[None]))


def test_cutmix_end_points() -> None:
    clouds, labels = _clouds(), _labels()
    mixer = PointCutMix(num_classes=3)
    params = mixer.sample(clouds, labels, generator=_gen())
    assert torch.equal(mixer.apply(clouds, labels, _with_lam(params, 1.0)).inputs, clouds)
    zero = mixer.apply(clouds, labels, _with_lam(params, 0.0))
    assert torch.equal(_sorted_rows(zero.inputs), _sorted_rows(clouds[params.index]))
    assert torch.equal(zero.lam, torch.zeros(6))


# -- the Mixer contract -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("per_sample", [True, False])
def test_replay_serialisation_and_batch_sizes(name: str, per_sample: bool) -> None:
    mixer = MIXERS.build(name, num_classes=3, per_sample=per_sample)
    assert MIXERS.get(name).modality == "points"
    for batch in (5, 1, 0):
        clouds, labels = _clouds(batch=batch), _labels(batch)
        result = mixer(clouds, labels, generator=_gen())
        assert result.inputs.shape == clouds.shape and result.inputs.dtype == clouds.dtype
        assert result.lam.shape == (batch,) and result.targets.shape == (batch, 3)
        if batch:
            params = mixer.sample(clouds, labels, generator=_gen())
            assert torch.equal(mixer.apply(clouds, labels, params).inputs, result.inputs)
    again = Mixer.from_dict(mixer.to_dict())
    clouds, labels = _clouds(), _labels()
    assert torch.equal(again(clouds, labels, generator=_gen(4)).inputs, mixer(clouds, labels, generator=_gen(4)).inputs)
    if not per_sample:
        lam = mixer(clouds, labels, generator=_gen()).lam
        assert torch.equal(lam, lam[:1].expand_as(lam))


@pytest.mark.parametrize("name", NAMES)
def test_draws_differ_per_sample(name: str) -> None:
    mixer = MIXERS.build(name, num_classes=3)
    result = mixer(_clouds(batch=8), _labels(8), generator=_gen())
    assert len(torch.unique(result.lam)) > 1


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_fails_in_one_line(name: str) -> None:
    mixer = MIXERS.build(name, num_classes=3)
    nan = _clouds()
    nan[0, 0, 0] = float("nan")
    for clouds, message in ((_clouds()[0], "points batches are"), (nan, "NaN"), (torch.randn(6, 10, 2), "last axis")):
        with pytest.raises(AugbenchError, match=message) as info:
            mixer(clouds, _labels(), generator=_gen())
        assert "\n" not in str(info.value)


def test_bad_options_fail_in_one_line() -> None:
    with pytest.raises(AugbenchError, match="projections"):
        PointMixup(num_classes=3, projections=0)
    with pytest.raises(AugbenchError, match="alpha"):
        PointCutMix(num_classes=3, alpha=0.0)
