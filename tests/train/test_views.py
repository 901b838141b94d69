"""Keyed views made for a chunk of steps in one call: the same bits as a call per step."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import Tensor

from augbench.bench.run import train_run
from augbench.bench.spec import RunSpec
from augbench.data.streams import DataSpec
from augbench.errors import ConfigError
from augbench.methods.spec import MethodContext, build_method
from augbench.metrics.cost import StepTimer
from augbench.policies.build import build_transform
from augbench.train import views as views_module
from augbench.train.context import Batch, StreamBatch, TrainContext
from augbench.train.views import KeyedView, PreparedViews, chunk_steps

COST = ("train_images_per_s", "augmentation_time_fraction", "peak_memory_mb")


def _results(metrics: dict[str, float]) -> dict[str, float]:
    """The metrics without the cost figures (times, throughput, memory)."""
    return {name: value for name, value in metrics.items() if name not in COST and not name.endswith("_time_s")}


def _batch(start: int, size: int, passes: int = 0) -> Batch:
    ids = torch.arange(start, start + size)
    inputs = torch.randint(0, 256, (size, 1, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(start))
    return Batch({"labeled": StreamBatch(inputs, ids % 10, ids, passes=passes, pool_size=100)})


def _ctx() -> TrainContext:
    model = torch.nn.Linear(2, 2)
    return TrainContext(model, torch.optim.SGD(model.parameters(), lr=0.1), torch.device("cpu"), 10,
                        torch.Generator(), lambda x: x, 1, seed=3)


class _Counting:
    """A keyed transform that counts its calls."""

    def __init__(self, transform: Callable[..., Tensor]) -> None:
        self.transform, self.calls = transform, 0

    def __call__(self, inputs: Tensor, *, keys: Tensor, seed: int) -> Tensor:
        self.calls += 1
        return self.transform(inputs, keys=keys, seed=seed)


@pytest.mark.parametrize("spec", ["rand-m9-n2", {"type": "RandomAffine", "degrees": 15, "shear": 10.0}])
def test_a_chunk_call_gives_each_step_the_bits_of_its_own_call(spec: object) -> None:
    transform = _Counting(build_transform(spec))
    batches = [_batch(0, 7, passes=1), _batch(7, 5, passes=1), _batch(40, 7, passes=2)]
    ctx = _ctx()
    per_step = []
    for batch in batches:
        ctx.batch = batch
        per_step.append(ctx.augment(transform, "labeled", (0, 3)))
    assert transform.calls == 3
    ctx.prepared = PreparedViews([KeyedView(transform, "labeled", (0, 3))], batches, ctx.seed, ctx.timer)
    for batch, expected in zip(batches, per_step):
        ctx.batch = batch
        assert torch.equal(ctx.augment(transform, "labeled", (0, 3)), expected)
    assert transform.calls == 4  # one call made the chunk's three steps
    ctx.batch = _batch(80, 4)  # not one of the chunk's steps: augmented in the step
    ctx.augment(transform, "labeled", (0, 3))
    assert transform.calls == 5


def test_an_undeclared_view_is_made_in_the_step() -> None:
    declared, other = _Counting(build_transform("hflip")), _Counting(build_transform("hflip"))
    batches = [_batch(0, 4)]
    ctx = _ctx()
    ctx.prepared = PreparedViews([KeyedView(declared, "labeled", 0)], batches, ctx.seed, ctx.timer)
    ctx.batch = batches[0]
    ctx.augment(other, "labeled", 0)
    ctx.augment(declared, "labeled", 1)  # another key view of the declared transform
    assert (declared.calls, other.calls) == (1, 1)


def test_the_chunk_call_is_timed_as_augmentation_of_the_step_that_makes_it() -> None:
    ticks = iter(range(100))
    timer = StepTimer(clock=lambda: float(next(ticks)))
    batches = [_batch(0, 4), _batch(4, 4)]
    ctx = _ctx()
    ctx.timer = timer
    ctx.prepared = PreparedViews([KeyedView(build_transform("hflip"), "labeled", 0)], batches, ctx.seed, timer)
    transform = ctx.prepared._views[next(iter(ctx.prepared._views))].transform
    for batch in batches:
        ctx.batch = batch
        with timer.step(len(batch["labeled"])):
            ctx.augment(transform, "labeled", 0)
    summary = timer.summary()
    assert summary.augmentation_time_s == 1.0  # the first step's region only
    assert summary.step_time_s == 4.0


def test_chunks_keep_within_the_sample_and_byte_budgets() -> None:
    views = [KeyedView(build_transform("hflip"), "labeled", 0), KeyedView(build_transform("hflip"), "unlabeled", 1)]
    assert chunk_steps(views, {"labeled": 16, "unlabeled": 112}, {"labeled": 64, "unlabeled": 64}) == 1024 // 112
    big = 3 * 224 * 224
    assert chunk_steps(views[:1], {"labeled": 64}, {"labeled": big}) == (64 * 2**20 // big) // 64
    assert chunk_steps(views[:1], {"labeled": 4096}, {"labeled": 64}) == 1


@pytest.mark.parametrize("view", [16, -1, (1, 1), ()])
def test_a_bad_key_view_is_one_line(view: object) -> None:
    with pytest.raises(ConfigError, match="key view in 0..15") as error:
        KeyedView(build_transform("hflip"), "labeled", view)  # type: ignore[arg-type]
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("method", "data"),
    [
        ("affine", DataSpec(train_size=120, test_size=100)),
        ({"type": "fixmatch", "threshold": 0.5}, DataSpec(labeled_per_class=3, unlabeled=90, ratio=3, test_size=100)),
        ({"type": "simclr", "augment": {"type": "RandomResizedCrop", "size": None, "scale": [0.5, 1.0]}},
         DataSpec(train_size=120, test_size=100)),
    ],
    ids=["supervised", "fixmatch", "simclr"],
)
def test_a_run_is_identical_whatever_the_chunk_size(method: object, data: DataSpec,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    evaluations = () if isinstance(method, dict) and method["type"] == "simclr" else ("calibration",)
    spec = RunSpec.create(dataset="digits", model="harness_cnn", method=method, seed=1, data=data, epochs=2,
                          batch_size=10, evaluations=evaluations)
    chunked = train_run(spec)
    monkeypatch.setattr(views_module, "CHUNK_SAMPLES", 1)  # one step per chunk: a call per step
    per_step = train_run(spec)
    assert _results(chunked.metrics) == _results(per_step.metrics)
    assert chunked.curves == per_step.curves


def test_declared_views_match_what_the_steps_read() -> None:
    # every shipped method that augments declares its views, so the loop can make them ahead
    context = MethodContext(10, (1, 8, 8))
    for spec, expected in [
        ("affine", [("labeled", (0,))]),
        ({"type": "fixmatch"}, [("labeled", (0,)), ("unlabeled", (0,)), ("unlabeled", (1,))]),
        ({"type": "simclr"}, [("labeled", (1, 2))]),
        ("augmix", [("labeled", (1,)), ("labeled", (2,))]),
        ("baseline", []),
    ]:
        method = build_method(spec, context)
        assert [(view.stream, view.view) for view in method.keyed_views()] == expected, spec
