"""MADAug card (augbench/methods/madaug.py): a per-image policy trained bi-level on held-out data."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from torch import Tensor, nn

from augbench.bench.experiment import parse_experiment
from augbench.bench.run import train_run
from augbench.bench.spec import RunSpec
from augbench.data import load_dataset
from augbench.data.streams import DataSpec, prepare_run_data
from augbench.errors import ConfigError
from augbench.keyed import KeyedGenerator
from augbench.methods import MADAug, MethodContext, build_method
from augbench.methods.madaug import augment_fraction, mix_all_ops, sample_exploit
from augbench.models import HarnessCNN
from augbench.policies.ops import SPACES, apply_op_layers, op_values
from augbench.train.context import Batch, StreamBatch, TrainContext

pytestmark = pytest.mark.usefixtures("torch_one_thread")

DIGITS = MethodContext(10, (1, 8, 8))
POOL = 1797


def madaug(**options: object) -> MADAug:
    method = build_method({"type": "madaug", **options}, DIGITS)
    assert isinstance(method, MADAug)
    return method


def normalize(images: Tensor) -> Tensor:
    return (images.float() / 255 - 0.3) / 0.4


def make_ctx(seed: int = 0) -> TrainContext:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = HarnessCNN()
    return TrainContext(
        model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9), device=torch.device("cpu"),
        num_classes=10, generator=torch.Generator().manual_seed(seed), normalize=normalize, total_steps=100, seed=3,
    )


def digits_batch(ids: Tensor, val_ids: Tensor, passes: int = 0) -> Batch:
    data = load_dataset("digits")
    return Batch({
        "labeled": StreamBatch(data.inputs[ids], data.labels[ids], ids, passes=passes, pool_size=POOL),
        "val": StreamBatch(data.inputs[val_ids], data.labels[val_ids], val_ids, passes=0, pool_size=POOL),
    })


def test_r_schedule_is_tanh_of_epoch_over_tau_plus_one_percent_capped_at_one() -> None:
    assert augment_fraction(0, 40.0) == pytest.approx(0.01)
    assert augment_fraction(40, 40.0) == pytest.approx(math.tanh(1.0) + 0.01)
    assert augment_fraction(10, 10.0) == pytest.approx(0.7715941559557649)
    assert augment_fraction(20, 40.0) == pytest.approx(math.tanh(0.5) + 0.01)
    assert augment_fraction(200, 40.0) == 1.0  # tanh(5) + 0.01 > 1: capped
    values = [augment_fraction(epoch, 10.0) for epoch in range(60)]
    assert all(a <= b for a, b in zip(values, values[1:]))


def test_the_step_augments_a_share_r_of_the_batch_and_logs_it() -> None:
    method, ctx = madaug(tau=10.0, search_freq=1000), make_ctx()
    method.setup(ctx)
    ctx.step = 1  # no explore step
    data = load_dataset("digits")
    ids = torch.arange(400)
    for epoch, r in [(0, 0.01), (10, augment_fraction(10, 10.0)), (100, 1.0)]:
        ctx.epoch = epoch
        ctx.batch = Batch({"labeled": StreamBatch(data.inputs[ids], data.labels[ids], ids, passes=epoch,
                                                  pool_size=POOL)})
        method.training_step(ctx.batch, ctx)
        logged = ctx.log.means()
        assert logged["augment_fraction"] == pytest.approx(r)
        assert abs(logged["augmented_share"] - r) < 0.06  # a keyed coin per sample: r in expectation


def test_exploit_draws_k_distinct_ops_per_sample_from_the_weights() -> None:
    batch, num_ops, k = 4000, 5, 2
    weights = torch.tensor([0.4, 0.3, 0.2, 0.1, 0.0]).repeat(batch, 1)
    magnitudes = torch.rand(batch, num_ops, generator=torch.Generator().manual_seed(0))
    draw = sample_exploit(magnitudes, weights, k, 0.7, 0.3, KeyedGenerator(torch.arange(batch), seed=1))
    on = draw.augmented
    assert abs(on.float().mean().item() - 0.7) < 0.03
    assert (draw.op_index[~on] == -1).all()
    chosen = draw.op_index[on]
    assert (chosen[:, 0] != chosen[:, 1]).all() and (chosen >= 0).all()
    assert not (chosen == 4).any()  # a zero-weight op is never drawn
    first = torch.bincount(chosen[:, 0], minlength=num_ops).float() / len(chosen)
    assert torch.allclose(first, weights[0], atol=0.03)  # the first op is drawn with probability w
    # Without replacement: op 0 is in a pair with probability 0.4 + sum_j w_j * 0.4 / (1 - w_j).
    pair = 0.4 + sum(w * 0.4 / (1 - w) for w in (0.3, 0.2, 0.1))
    assert abs((chosen == 0).any(dim=1).float().mean().item() - pair) < 0.03
    moved = (draw.level[on] - magnitudes[on].gather(1, chosen)).abs()
    assert (moved <= 0.3 + 1e-6).all() and (draw.level >= 0).all() and (draw.level <= 1).all()
    assert (moved > 0.2).any()  # the noise is used, not zero
    assert set(draw.sign.unique().tolist()) == {-1.0, 1.0}


def test_exploit_and_explore_draws_replay_by_key_in_any_batch_order() -> None:
    keys = torch.arange(100, 164) * 16
    weights = torch.softmax(torch.randn(64, 14, generator=torch.Generator().manual_seed(2)), dim=1)
    magnitudes = torch.rand(64, 14, generator=torch.Generator().manual_seed(3))
    order = torch.randperm(64, generator=torch.Generator().manual_seed(4))
    full = sample_exploit(magnitudes, weights, 2, 0.5, 0.3, KeyedGenerator(keys, seed=5))
    part = sample_exploit(magnitudes[order], weights[order], 2, 0.5, 0.3, KeyedGenerator(keys[order], seed=5))
    for name in ("augmented", "op_index", "level", "sign"):
        assert torch.equal(getattr(full, name)[order], getattr(part, name))
    other = sample_exploit(magnitudes, weights, 2, 0.5, 0.3, KeyedGenerator(keys, seed=6))
    assert not torch.equal(full.op_index, other.op_index)  # the seed matters
    images = load_dataset("digits").inputs[:64]
    method = madaug()
    mixed = mix_all_ops(images, magnitudes, weights, method.ops, "standard", 0.0, normalize, KeyedGenerator(keys, 5))
    again = mix_all_ops(images[order], magnitudes[order], weights[order], method.ops, "standard", 0.0, normalize,
                        KeyedGenerator(keys[order], 5))
    assert torch.equal(mixed[order], again)


def test_the_training_step_replays_a_sample_whatever_its_batch() -> None:
    method, ctx = madaug(tau=1.0, search_freq=1000), make_ctx()
    method.setup(ctx)
    ctx.step, ctx.epoch = 1, 5
    seen: list[Tensor] = []
    model = ctx.model
    hook = model.register_forward_pre_hook(lambda _module, args: seen.append(args[0].detach().clone()))
    data = load_dataset("digits")
    ids = torch.arange(40)
    order = torch.randperm(40, generator=torch.Generator().manual_seed(0))
    for index in (ids, ids[order]):
        ctx.batch = Batch({"labeled": StreamBatch(data.inputs[index], data.labels[index], index, passes=5,
                                                  pool_size=POOL)})
        method.training_step(ctx.batch, ctx)
    hook.remove()
    first, second = seen[0], seen[1]  # the task model's inputs (the policy's feature pass does not call forward)
    assert torch.equal(first[order], second)
    assert not torch.equal(first, normalize(data.inputs[ids]))  # augmented


def test_straight_through_gradient_reaches_the_magnitudes_and_the_mixture_is_exact() -> None:
    images = load_dataset("digits").inputs[:6]
    method = madaug()
    num_ops = len(method.ops)
    magnitudes = torch.rand(6, num_ops, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    weights = torch.softmax(torch.randn(6, num_ops, generator=torch.Generator().manual_seed(1)), 1).requires_grad_(True)
    keys = torch.arange(6)
    mixed = mix_all_ops(images, magnitudes, weights, method.ops, "standard", 0.0, normalize, KeyedGenerator(keys, 0))
    # Reference: each op on the whole batch with the same per-sample arguments (no straight-through term).
    sign = torch.where(KeyedGenerator(keys, 0).rand((6, num_ops)) < 0.5, -1.0, 1.0)
    index = torch.arange(num_ops).repeat(6, 1)
    values = op_values(method.ops, SPACES["standard"], index, magnitudes.detach(), sign)
    views = torch.stack([normalize(apply_op_layers(images, method.ops, index[:, k:k + 1], values[:, k:k + 1], 0.0,
                                                   "image")) for k in range(num_ops)], dim=1)  # (B, K, C, H, W)
    expected = (weights.detach()[:, :, None, None, None] * views).sum(1)
    assert torch.allclose(mixed.detach(), expected, atol=1e-5)
    assert not torch.allclose(views[:, method.ops.index("Rotate")], normalize(images))  # ops really act
    grad_mu, grad_w = torch.autograd.grad(mixed.sum(), [magnitudes, weights])
    pixels = images[0].numel()
    assert torch.allclose(grad_mu, weights.detach() * pixels)  # d pixel / d mu_k = 1, times the weight w_k
    assert torch.allclose(grad_w, views.sum(dim=(2, 3, 4)), rtol=1e-4, atol=1e-3)


def test_the_bilevel_gradient_matches_finite_differences_of_the_lookahead_loss() -> None:
    method, ctx = madaug(ops=["Identity", "Rotate", "ShearX", "Solarize"]), make_ctx()
    ctx.model.double()  # float64 end to end: central differences of a ReLU net need a small step
    ctx.normalize = lambda images: (images.double() / 255 - 0.3) / 0.4
    method.setup(ctx)
    ctx.batch = digits_batch(torch.arange(40), torch.arange(1500, 1540))
    policy = ctx.modules["policy"]
    bias = policy.linear.bias  # entries K.. are the op logits: the mixture is differentiable in them
    loss = method.lookahead_loss(ctx.batch, ctx)
    (grad,) = torch.autograd.grad(loss, [bias])
    assert not any(p.grad is not None for p in ctx.model.parameters())  # the task model is not touched
    num_ops, eps = 4, 1e-5
    for entry in range(num_ops, 2 * num_ops):
        bias.data[entry] += eps
        up = method.lookahead_loss(ctx.batch, ctx).item()
        bias.data[entry] -= 2 * eps
        down = method.lookahead_loss(ctx.batch, ctx).item()
        bias.data[entry] += eps
        assert (up - down) / (2 * eps) == pytest.approx(grad[entry].item(), rel=1e-3, abs=1e-7)
    assert grad[num_ops:].abs().max() > 1e-4  # the hypergradient is not trivially zero


def test_falsifier_policy_weights_move_from_uniform_after_explore_steps() -> None:
    method, ctx = madaug(), make_ctx()
    method.setup(ctx)
    policy = ctx.modules["policy"]
    nn.init.zeros_(policy.linear.weight)
    nn.init.zeros_(policy.linear.bias)  # uniform weights, mu = 0.5; weight decay alone cannot move zeros
    before = [p.detach().clone() for p in ctx.model.parameters()]
    data = load_dataset("digits")
    probe = normalize(data.inputs[1000:1200])
    for step in range(8):
        ctx.batch = digits_batch(torch.arange(50 * step, 50 * step + 50), torch.arange(1500 + 30 * step, 1550 + 30 * step))
        method.explore(ctx.batch, ctx)
    assert all(torch.equal(b, p) for b, p in zip(before, ctx.model.parameters()))  # explore never steps the model
    with torch.no_grad():
        magnitudes, logits = policy(ctx.model.forward_features(probe).flatten(1))
    weights = logits.softmax(dim=1)
    uniform = 1 / len(method.ops)
    assert (weights - uniform).abs().max() > 0.005
    assert (magnitudes - 0.5).abs().max() > 0.005  # the straight-through gradient moved mu too


def test_validation_stream_is_a_fixed_split_disjoint_from_the_training_ids() -> None:
    spec = DataSpec(train_size=500, val_size=180)
    assert spec.streams == ("labeled", "val")
    vals = []
    for seed in (0, 1):
        data = prepare_run_data("digits", spec, seed)
        val, labeled, test = data.streams["val"], data.streams["labeled"], data.evals["test"]
        assert len(val) == 180 and data.evals["val"] is val
        assert not set(val.ids.tolist()) & set(labeled.ids.tolist())
        assert not set(val.ids.tolist()) & set(test.ids.tolist())
        vals.append(val.ids)
    assert torch.equal(vals[0], vals[1])  # the same held-out split for every seed
    semi = prepare_run_data("digits", DataSpec(labeled_per_class=5, unlabeled="rest", val_size=100), 0)
    assert not set(semi.streams["val"].ids.tolist()) & set(semi.streams["unlabeled"].ids.tolist())
    assert "val" not in DataSpec(train_size=500).streams


def test_a_short_run_trains_the_policy_logs_its_curves_and_replays() -> None:
    spec = RunSpec.create(dataset="digits", model="harness_cnn", method={"type": "madaug", "tau": 1.0}, label="madaug",
                          seed=0, data=DataSpec(train_size=100, val_size=60), epochs=3, batch_size=25, evaluations=())
    first, second = train_run(spec), train_run(spec)
    names = {name for _, _, name, _ in first.curves}
    assert {"augment_fraction", "policy_magnitude", "weight_entropy", "explore_val_loss", "op_weight_Rotate",
            "applied_magnitude"} <= names
    fractions = [value for _, epoch, name, value in first.curves if name == "augment_fraction"]
    assert fractions == pytest.approx([augment_fraction(e, 1.0) for e in range(3)])
    assert first.metrics["test_accuracy"] == second.metrics["test_accuracy"]
    assert first.curves == second.curves


@pytest.mark.parametrize(("options", "context", "message"), [
    ({}, MethodContext(2, (1, 150), "timeseries"), "use an image dataset"),
    ({}, MethodContext(10, (4, 8, 8)), "1 or 3 channels"),
    ({"k": 0}, DIGITS, r"k=0 must be an int in \[1, 14\]"),
    ({"ops": ["Rotate", "Invert"]}, DIGITS, "not in space 'standard'"),
    ({"temperature": 0}, DIGITS, "temperature=0 must be a number > 0"),
    ({"tau": -1}, DIGITS, "tau=-1"),
    ({"magnitude_delta": 1.5}, DIGITS, r"magnitude_delta=1.5 must be a number in \[0, 1\]"),
    ({"search_freq": 0}, DIGITS, "search_freq=0"),
    ({"policy_lr": 0}, DIGITS, "policy_lr=0"),
])
def test_bad_options_fail_in_one_line(options: dict[str, object], context: MethodContext, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        build_method({"type": "madaug", **options}, context)
    assert len(str(info.value).splitlines()) == 1


def test_no_validation_stream_is_refused_before_training_in_one_line() -> None:
    with pytest.raises(ConfigError, match="needs the 'val' stream.*add val_size: N") as info:
        parse_experiment({"datasets": ["digits"], "methods": ["madaug"], "train_size": 200})
    assert len(str(info.value).splitlines()) == 1
    parse_experiment({"datasets": ["digits"], "methods": ["madaug"], "train_size": 200, "val_size": 100})


def test_a_model_without_features_is_refused_in_one_line() -> None:
    ctx = make_ctx()
    ctx.model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    with pytest.raises(ConfigError, match="no forward_features.*use a StagedModel") as info:
        madaug().setup(ctx)
    assert len(str(info.value).splitlines()) == 1


def test_the_step_before_setup_names_the_fix(make_context: Callable[..., TrainContext]) -> None:
    ctx = make_context()
    ctx.batch = digits_batch(torch.arange(8), torch.arange(1500, 1508))
    with pytest.raises(ConfigError, match="setup"):
        madaug().training_step(ctx.batch, ctx)
