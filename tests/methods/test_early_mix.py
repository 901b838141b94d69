"""Early-stopped Mixup (Zou et al., ICML 2023): mix for mix_epochs epochs, then ERM; on the
feature-noise data model Mixup learns the rare feature that ERM misses."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as nnf

from augbench.bench.run import train_run
from augbench.bench.spec import RunSpec
from augbench.data.streams import DataSpec
from augbench.errors import ConfigError
from augbench.methods import EarlyStoppedMix, MethodContext, MixSupervised, build_method
from augbench.train.context import Batch

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _batches(digits, count: int = 4) -> list[Batch]:
    index = torch.arange(len(digits.train_labels)).split(50)[:count]
    return [Batch.labeled(digits.train_images[i], digits.train_labels[i], i) for i in index]


def _losses(method, make_context, train_step, digits, epochs: int) -> tuple[list[float], torch.Tensor, dict]:
    ctx = make_context(seed=3)
    losses, logs = [], {}
    for epoch in range(epochs):
        ctx.epoch = epoch
        for batch in _batches(digits, 2):
            losses.append(train_step(method, batch, ctx).loss.item())
        logs[epoch] = ctx.log.means()
    return losses, torch.cat([p.detach().flatten() for p in ctx.model.parameters()]), logs


def test_without_mix_epochs_it_trains_bit_for_bit_as_mix_supervised(make_context, train_step, digits) -> None:
    reference, ref_weights, _ = _losses(MixSupervised(num_classes=10), make_context, train_step, digits, 3)
    early, weights, logs = _losses(EarlyStoppedMix(num_classes=10), make_context, train_step, digits, 3)
    assert early == reference and torch.equal(weights, ref_weights)
    assert all(log["mixing"] == 1.0 for log in logs.values())


def test_the_switch_to_erm_happens_at_mix_epochs(make_context, train_step, digits) -> None:
    mixup, _, _ = _losses(MixSupervised(num_classes=10), make_context, train_step, digits, 4)
    method = EarlyStoppedMix(num_classes=10, mix_epochs=2)
    ctx = make_context(seed=3)
    for epoch in range(4):
        ctx.epoch = epoch
        for step, batch in enumerate(_batches(digits, 2)):
            state = ctx.generator.get_state()
            with torch.no_grad():
                plain = nnf.cross_entropy(ctx.model(ctx.normalize(batch["labeled"].inputs)), batch["labeled"].labels)
            loss = train_step(method, batch, ctx).loss
            if epoch < 2:  # mixed steps: mix_supervised's losses (same model, same generator draws)
                assert loss.item() == mixup[2 * epoch + step] and not torch.equal(ctx.generator.get_state(), state)
            else:  # ERM steps: cross-entropy of the unmixed batch, no mixing draws
                assert torch.allclose(loss, plain) and torch.equal(ctx.generator.get_state(), state)
        assert ctx.log.means()["mixing"] == (1.0 if epoch < 2 else 0.0)
    assert method.mixing(1) and not method.mixing(2)


@pytest.mark.parametrize("value", [-1, 1.5, True, "10"])
def test_bad_mix_epochs_raise_one_line(value) -> None:
    with pytest.raises(ConfigError, match="mix_epochs"):
        EarlyStoppedMix(num_classes=10, mix_epochs=value)


def test_the_registered_name_builds_the_method_with_its_options() -> None:
    method = build_method({"type": "early_stopped_mix", "mixer": "mixup", "mix_epochs": 3}, MethodContext(10, (1, 8, 8)))
    assert isinstance(method, EarlyStoppedMix) and method.mix_epochs == 3


def _feature_run(method: dict, epochs: int) -> dict[str, float]:
    spec = RunSpec.create(
        dataset={"type": "feature_noise", "train_size": 400, "test_size": 1000},
        model={"type": "patch_cnn", "init_std": 0.005}, method=method, seed=0, epochs=epochs, batch_size=400,
        optimizer={"type": "sgd", "lr": 0.125, "momentum": 0.0, "weight_decay": 0.0}, schedule="constant",
        data=DataSpec(), evaluations=("feature_learning",),
    )
    return train_run(spec).metrics


def test_mixup_learns_the_rare_feature_that_erm_misses() -> None:
    mixer = {"type": "series_mixup", "alpha": 1.0, "pad_value": None}
    erm = _feature_run({"type": "supervised"}, 150)
    mixup = _feature_run({"type": "mix_supervised", "mixer": mixer}, 150)
    assert erm["common_correlation"] > 0.1  # ERM does learn the common features
    assert erm["rare_correlation"] < 0.03  # ... but leaves the rare ones at their initial size
    assert mixup["rare_correlation"] > 3 * erm["rare_correlation"]
    assert mixup["test_rare_accuracy"] > erm["test_rare_accuracy"] + 0.3
