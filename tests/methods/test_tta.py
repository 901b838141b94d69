"""Test-time augmentation (augbench/methods/tta.py): merged view probabilities, reused training."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

import augbench.bench.run as run_module
from augbench.bench.run import train_run
from augbench.bench.spec import RunSpec
from augbench.data.streams import DataSpec
from augbench.errors import ConfigError, InputValueError
from augbench.methods import TTA, Method, MethodContext, build_method
from augbench.methods.tta import merge_log_probs
from augbench.metrics import ClassificationMetrics
from augbench.train.context import TrainContext

DIGITS = MethodContext(10, (1, 8, 8))
IDENTITY = {"type": "HorizontalFlip", "p": 0.0}


@pytest.fixture(autouse=True)
def _one_thread(single_thread: Callable[[], AbstractContextManager[None]]) -> Iterator[None]:
    with single_thread():
        yield


def tta(**options: object) -> TTA:
    method = build_method({"type": "tta", **options}, DIGITS)
    assert isinstance(method, TTA)
    return method


def images(batch: int = 6, seed: int = 0) -> Tensor:
    return torch.randint(0, 256, (batch, 1, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def normalize(batch: Tensor) -> Tensor:
    return batch.float() / 255 - 0.5


def linear_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 10)).eval()


class CountingViews:
    """Wraps a transform and records every call's batch size and keys."""

    def __init__(self, transform: Callable[..., Tensor]) -> None:
        self.transform, self.calls = transform, []

    def __call__(self, inputs: Tensor, **kwargs: object) -> Tensor:
        self.calls.append((inputs.shape[0], kwargs["keys"].clone()))
        return self.transform(inputs, **kwargs)


# -- merges on probabilities ------------------------------------------------------------------


def test_merges_match_hand_computed_probabilities() -> None:
    views = torch.tensor([[[0.7, 0.2, 0.1], [0.1, 0.6, 0.3]]])  # one sample, two views
    mean = merge_log_probs(views.log(), "mean").exp()
    maximum = merge_log_probs(views.log(), "max").exp()
    gmean = merge_log_probs(views.log(), "gmean").exp()
    torch.testing.assert_close(mean, torch.tensor([[0.4, 0.4, 0.2]]))
    torch.testing.assert_close(maximum, torch.tensor([[0.7, 0.6, 0.3]]) / 1.6)
    root = torch.tensor([[0.07, 0.12, 0.03]]).sqrt()
    torch.testing.assert_close(gmean, root / root.sum())


def test_mean_of_probabilities_is_not_the_mean_of_logits() -> None:
    # one confident view for class 1, two mild views for class 0
    logits = torch.tensor([[[0.0, 20.0], [4.0, 0.0], [4.0, 0.0]]])
    merged = merge_log_probs(logits.log_softmax(-1), "mean")
    p0 = 2 * (1 / (1 + math.exp(-4.0))) / 3 + (1 / (1 + math.exp(20.0))) / 3
    torch.testing.assert_close(merged.exp(), torch.tensor([[p0, 1 - p0]]))
    assert merged.argmax(-1).item() == 0
    assert logits.mean(1).argmax(-1).item() == 1  # logit averaging picks the other class


def test_gmean_is_softmax_of_the_mean_logits() -> None:
    logits = torch.randn(5, 4, 7, generator=torch.Generator().manual_seed(0)) * 3
    torch.testing.assert_close(merge_log_probs(logits.log_softmax(-1), "gmean"), logits.mean(1).log_softmax(-1))


def test_merge_stays_finite_where_probabilities_underflow() -> None:
    logits = torch.tensor([[[0.0, 200.0], [0.0, 300.0]]])
    for merge in ("mean", "max", "gmean"):
        merged = merge_log_probs(logits.log_softmax(-1), merge)
        assert torch.isfinite(merged).all() and merged.exp().sum().item() == pytest.approx(1.0)


def test_predict_returns_log_probabilities_of_the_mean_over_original_and_mirror() -> None:
    model, batch = linear_model(), images()
    method = tta()  # defaults: original + horizontal mirror, mean
    with torch.no_grad():
        expected = (model(normalize(batch)).softmax(-1) + model(normalize(batch.flip(-1))).softmax(-1)) / 2
        predicted = method.predict(model, batch, normalize)
    torch.testing.assert_close(predicted.exp(), expected)
    torch.testing.assert_close(predicted.exp().sum(-1), torch.ones(6))
    # metrics read log-probabilities as logits: NLL is -log of the merged probability
    scores = ClassificationMetrics()
    labels = torch.arange(6)
    scores.update(predicted, labels)
    assert scores.compute()["nll"] == pytest.approx(float(-expected[torch.arange(6), labels].log().mean()), rel=1e-5)


@pytest.mark.parametrize("include_original", [True, False])
def test_one_identity_view_equals_the_base_prediction(include_original: bool) -> None:
    model, batch = linear_model(), images()
    method = tta(views=IDENTITY, num_views=1, include_original=include_original)
    with torch.no_grad():
        base = method.base.predict(model, batch, normalize)
        torch.testing.assert_close(method.predict(model, batch, normalize), base.log_softmax(-1))


# -- views: per sample, one call, deterministic -------------------------------------------------


def test_views_are_made_in_one_keyed_call_and_one_forward_pass() -> None:
    method = tta(views="crop8p2", num_views=4)
    method.views = spy = CountingViews(method.views)
    forwards: list[int] = []
    model = linear_model()
    model.register_forward_pre_hook(lambda _module, args: forwards.append(args[0].shape[0]))
    with torch.no_grad():
        method.predict(model, images(6), normalize)
    assert len(spy.calls) == 1
    size, keys = spy.calls[0]
    assert size == 24 and torch.equal(keys, torch.arange(24))
    assert forwards == [6 + 24]


def test_views_are_drawn_per_sample() -> None:
    method = tta(views="crop8p2", num_views=4, include_original=False)
    same = images(1).expand(5, -1, -1, -1)  # five copies of one image
    seen: list[Tensor] = []
    model = linear_model()
    model.register_forward_pre_hook(lambda _module, args: seen.append(args[0]))
    with torch.no_grad():
        method.predict(model, same, normalize)
    views = seen[0].view(5, 4, -1)
    distinct = {tuple(view.tolist()) for view in views.flatten(0, 1)}
    assert len(distinct) > 10  # 20 crops of one image, shifted independently
    assert not torch.equal(views[0], views[1])  # sample 0 and sample 1 get different crops


def test_predictions_are_deterministic_and_do_not_depend_on_the_batch_size() -> None:
    model, batch = linear_model(), images(8)
    with torch.no_grad():
        first = tta(views="rand-m9-n2", num_views=3).predict(model, batch, normalize)
        again = tta(views="rand-m9-n2", num_views=3).predict(model, batch, normalize)
        head = tta(views="rand-m9-n2", num_views=3).predict(model, batch[:3], normalize)
        other_seed = tta(views="rand-m9-n2", num_views=3, view_seed=1).predict(model, batch, normalize)
    assert torch.equal(first, again)
    torch.testing.assert_close(head, first[:3])
    assert not torch.allclose(other_seed, first)


def test_off_manifold_views_lower_clean_accuracy_on_digits(
    digits: object, make_context: Callable[..., TrainContext], fit: Callable[[Method, TrainContext, int], None]
) -> None:
    """The card's falsifier: vertical flips are label-breaking on digits, so they must hurt."""
    ctx = make_context()
    method = tta(views="vflip1", include_original=False)
    fit(method.base, ctx, 12)
    model = ctx.model.eval()
    with torch.no_grad():
        base = method.base.predict(model, digits.test_images, ctx.normalize).argmax(-1)
        flipped = method.predict(model, digits.test_images, ctx.normalize).argmax(-1)
    base_accuracy = (base == digits.test_labels).float().mean().item()
    flipped_accuracy = (flipped == digits.test_labels).float().mean().item()
    assert base_accuracy > 0.8
    assert flipped_accuracy < base_accuracy - 0.3


# -- protocol: base phases, streams, evaluations, options ----------------------------------------


def test_phases_streams_and_evaluations_are_the_base_methods() -> None:
    method = tta(base={"type": "mix_supervised", "mixer": "cutmix"})
    base = build_method({"type": "mix_supervised", "mixer": "cutmix"}, DIGITS)
    [phase] = method.phases(DIGITS)
    assert phase.method is method.base and dict(phase.spec) == base.spec
    assert method.streams == base.streams and method.evaluations == base.evaluations


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"merge": "median"}, r"merge='median' is unknown; use one of mean, max, gmean"),
        ({"num_views": 0}, r"num_views=0 must be an integer >= 1"),
        ({"num_views": True}, r"num_views=True must be an integer"),
        ({"include_original": "yes"}, r"include_original='yes' must be true or false"),
        ({"view_seed": -1}, r"view_seed=-1 must be a non-negative integer"),
        ({"views": None}, r"views=None gives no views"),
        ({"views": "crop4"}, r"views='crop4' turns \(1, 8, 8\) images into \(1, 4, 4\); use a size-preserving view"),
        ({"views": {"type": "HorizontalFlip", "p": 1.0, "same_on_batch": True}}, r"views=.* keyed per-sample view"),
        ({"views": {"type": "RandomCrop", "size": 8, "padding": -1}}, r"tta: views=.*RandomCrop"),
        ({"base": "no_such_method"}, r"unknown method 'no_such_method'"),
    ],
)
def test_bad_options_are_one_line_naming_the_option(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        tta(**options)
    assert "\n" not in str(info.value)


def test_non_image_data_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"tta: views are image transforms and this run's data is timeseries"):
        build_method("tta", MethodContext(2, (1, 50), "timeseries"))


def test_merge_of_a_malformed_tensor_is_one_line() -> None:
    with pytest.raises(InputValueError, match=r"must be \(B, M, C\)"):
        merge_log_probs(torch.zeros(3, 4), "mean")


# -- end to end: a TTA run reuses the base run's phase ------------------------------------------


def _spec(method: object, **options: object) -> RunSpec:
    settings = {"epochs": 2, "seed": 1, "data": DataSpec(train_size=200, test_size=200), **options}
    return RunSpec.create(dataset="digits", model="harness_cnn", method=method, **settings)


def test_tta_run_reuses_the_baseline_phase_and_trains_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = train_run(_spec("baseline"), cache_dir=tmp_path)

    def no_training(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a TTA run must not train: its phase is the baseline's")

    monkeypatch.setattr(run_module, "fit", no_training)
    flipped = train_run(_spec({"type": "tta", "views": "crop8p1", "num_views": 2, "merge": "gmean"}), cache_dir=tmp_path)
    assert [c.reused for c in base.checkpoints] == [False] and [c.reused for c in flipped.checkpoints] == [True]
    assert [c.key for c in flipped.checkpoints] == [c.key for c in base.checkpoints]
    assert len(list(tmp_path.glob("*.pt"))) == 1
    assert flipped.curves == base.curves and flipped.phase_metrics == base.phase_metrics
    assert flipped.metrics["test_accuracy"] != base.metrics["test_accuracy"] or (
        flipped.metrics["test_nll"] != base.metrics["test_nll"]
    )
    # the identity TTA reproduces the baseline's evaluation exactly (same weights, same predictions)
    same = train_run(_spec({"type": "tta", "views": IDENTITY}), cache_dir=tmp_path)
    assert same.metrics["test_accuracy"] == base.metrics["test_accuracy"]
    assert same.metrics["test_nll"] == pytest.approx(base.metrics["test_nll"], rel=1e-5)


def test_corruption_evaluation_goes_through_tta(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corrupted: list[int] = []
    predict = TTA.predict

    def counting(self: TTA, model: nn.Module, inputs: Tensor, normalize: Callable[[Tensor], Tensor]) -> Tensor:
        corrupted.append(inputs.shape[0])
        return predict(self, model, inputs, normalize)

    monkeypatch.setattr(TTA, "predict", counting)
    spec = _spec("tta", data=DataSpec(train_size=200, test_size=50), epochs=1, evaluations=("corruption",))
    result = train_run(spec, cache_dir=tmp_path)
    assert corrupted.count(50) == 1 + 13 * 5  # the clean test split, then 13 corruptions x 5 severities
    assert 0.0 <= result.metrics["test_corruption_accuracy"] <= 1.0
