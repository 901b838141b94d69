"""One training run: determinism, keyed augmentation, phases and the phase cache."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from augbench.bench.run import train_run
from augbench.bench.spec import RunSpec
from augbench.data.streams import DataSpec
from augbench.errors import ConfigError


def _spec(method: str = "baseline", **options: object) -> RunSpec:
    settings = {"epochs": 2, "seed": 3, "data": DataSpec(train_size=100), **options}
    return RunSpec.create(dataset="digits", model="harness_cnn", method=method, **settings)


def test_same_spec_gives_identical_results() -> None:
    spec = _spec("affine")
    first, second = train_run(spec), train_run(spec)
    assert first.metrics["test_accuracy"] == second.metrics["test_accuracy"]
    assert first.curves == second.curves


def test_global_rng_is_left_alone() -> None:
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    train_run(_spec(epochs=1))
    assert torch.equal(torch.random.get_rng_state(), state)


def test_augmentation_changes_training() -> None:
    base, erased = train_run(_spec("baseline")), train_run(_spec("erasing"))
    assert base.curves != erased.curves
    assert [(phase, epoch, name) for phase, epoch, name, _ in base.curves] == [("train", 0, "train_loss"), ("train", 1, "train_loss")]


def test_augmentation_does_not_depend_on_batch_size_order_or_batch_composition() -> None:
    """Keyed draws: a sample's augmentation is a function of (seed, id, epoch, view) only."""
    from augbench.methods import MethodContext, build_method
    from augbench.train.context import Batch, StreamBatch, TrainContext

    method = build_method("rand-m9-n2", MethodContext(10, (1, 8, 8)))
    images = torch.randint(0, 256, (12, 1, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    ids = torch.arange(100, 112)
    seen: list[torch.Tensor] = []

    class Capture(torch.nn.Module):
        def forward(self, inputs: torch.Tensor) -> torch.Tensor:
            seen.append(inputs)
            return torch.zeros(inputs.shape[0], 10, requires_grad=True)

    def augmented(index: torch.Tensor) -> torch.Tensor:
        model = Capture()
        ctx = TrainContext(model, torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1), torch.device("cpu"),
                           10, torch.Generator(), lambda x: x, 1, seed=5)
        ctx.batch = Batch({"labeled": StreamBatch(images[index], torch.zeros(len(index), dtype=torch.long), ids[index], 2, 1000)})
        method.training_step(ctx.batch, ctx)
        return seen[-1]

    whole = augmented(torch.arange(12))
    reversed_halves = torch.cat([augmented(torch.arange(11, 5, -1)), augmented(torch.arange(5, -1, -1))])
    assert torch.equal(reversed_halves.flip(0), whole)


def test_phase_cache_reuses_finished_phases_and_gives_the_same_metrics(tmp_path: Path) -> None:
    spec = _spec(epochs=1)
    first = train_run(spec, cache_dir=tmp_path)
    second = train_run(spec, cache_dir=tmp_path)
    assert [c.reused for c in first.checkpoints] == [False] and [c.reused for c in second.checkpoints] == [True]
    assert second.metrics["test_accuracy"] == first.metrics["test_accuracy"]
    assert second.curves == first.curves
    assert len(list(tmp_path.glob("*.pt"))) == 1


def test_corrupt_or_foreign_cache_file_is_one_line_naming_the_fix(tmp_path: Path) -> None:
    spec = _spec(epochs=1)
    (checkpoint,) = train_run(spec, cache_dir=tmp_path).checkpoints
    path = Path(checkpoint.path)
    path.write_bytes(b"not a torch file")
    with pytest.raises(ConfigError, match="is corrupt .*delete it") as info:
        train_run(spec, cache_dir=tmp_path)
    assert len(str(info.value).splitlines()) == 1
    other = _spec(epochs=1, seed=4)
    (foreign,) = train_run(other, cache_dir=tmp_path / "other").checkpoints
    Path(foreign.path).replace(path)  # another spec's file under this phase's key
    with pytest.raises(ConfigError, match="written for another spec"):
        train_run(spec, cache_dir=tmp_path)


def test_method_needing_a_stream_the_data_lacks_is_refused() -> None:
    from augbench.methods import METHODS
    from augbench.methods.supervised import Supervised

    class NeedsTarget(Supervised):
        streams = ("labeled", "target")

    if "needs_target_test" not in METHODS:
        METHODS.register("needs_target_test")(NeedsTarget)
    with pytest.raises(ConfigError, match="needs the 'target' stream.*add target"):
        train_run(_spec("needs_target_test", epochs=1))


def test_labeled_per_class_larger_than_a_class_is_one_line() -> None:
    with pytest.raises(ConfigError, match="labeled_per_class=500 exceeds class") as info:
        train_run(_spec(data=DataSpec(labeled_per_class=500, unlabeled="rest")))
    assert len(str(info.value).splitlines()) == 1


def test_time_series_run_end_to_end() -> None:
    import os

    if not (Path(os.environ["AUGBENCH_DATA"]) / "ucr_uea" / "GunPoint").is_dir():
        pytest.skip("GunPoint not found under $AUGBENCH_DATA/ucr_uea")
    spec = RunSpec.create(dataset="gunpoint", model={"type": "timeseries_cnn", "width": 0.25}, method="baseline",
                          seed=0, epochs=2)
    result = train_run(spec)
    assert 0.0 <= result.metrics["test_accuracy"] <= 1.0 and result.metrics["test_nll"] > 0


def test_varying_length_series_pass_the_model_unchanged() -> None:
    """JapaneseVowels: 12 channels, zero-padded to one length; the 1-D CNN pools over time."""
    import os

    if not (Path(os.environ["AUGBENCH_DATA"]) / "ucr_uea" / "JapaneseVowels").is_dir():
        pytest.skip("JapaneseVowels not found under $AUGBENCH_DATA/ucr_uea")
    spec = RunSpec.create(dataset="japanese_vowels", model={"type": "timeseries_cnn", "width": 0.25},
                          method="baseline", seed=0, epochs=1, data=DataSpec(test_size=100))
    assert 0.0 <= train_run(spec).metrics["test_accuracy"] <= 1.0


def test_a_killed_run_resumes_without_losing_finished_phases(tmp_path: Path) -> None:
    """Two phases; an interrupt during the second leaves the first cached, and the rerun reuses it."""
    from augbench.bench.run import Progress
    from augbench.methods import METHODS, Phase
    from augbench.methods.spec import MethodContext
    from augbench.methods.supervised import Supervised

    class TwoPhases(Supervised):
        def phases(self, context: MethodContext) -> list[Phase]:
            first = Supervised()
            return [Phase("first", first, {"type": "supervised", "augment": None}), Phase("second", self, self.spec, init_from="first")]

    if "two_phases_test" not in METHODS:
        METHODS.register("two_phases_test")(TwoPhases)
    spec = _spec("two_phases_test", epochs=2)
    epochs = []

    def interrupt_in_second_phase() -> None:
        epochs.append(1)
        if len(epochs) == 3:  # the first epoch of the second phase
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_run(spec, cache_dir=tmp_path, progress=Progress(epoch=interrupt_in_second_phase))
    assert len(list(tmp_path.glob("*.pt"))) == 1  # the first phase survived the interrupt
    resumed = train_run(spec, cache_dir=tmp_path)
    assert [(c.phase, c.reused) for c in resumed.checkpoints] == [("first", True), ("second", False)]
    fresh = train_run(spec)
    assert resumed.metrics["test_accuracy"] == fresh.metrics["test_accuracy"]
