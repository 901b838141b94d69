"""DANN (card: shared/methods/domain.md): the gradient reversal layer, the lambda ramp, where the
domain gradient goes, target labels unread, the streams it needs, and a tiny end-to-end run."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

from augbench.bench.run import train_run
from augbench.bench.spec import RunSpec
from augbench.data import load_dataset
from augbench.data.streams import DataSpec, TargetSpec
from augbench.errors import ConfigError, InputTypeError, InputValueError
from augbench.methods import DANN, METHODS
from augbench.methods.dann import DomainDiscriminator, reversal_weight
from augbench.methods.spec import MethodContext, build_method
from augbench.models import StagedModel, grad_reverse
from augbench.train.context import Batch, StreamBatch, TrainContext
from augbench.train.loop import train_step


pytestmark = pytest.mark.usefixtures("torch_one_thread")  # 8x8 nets only lose time to intra-op threads


@pytest.fixture(scope="module")
def digits() -> tuple[Tensor, Tensor]:
    dataset = load_dataset("digits")
    return dataset.inputs, dataset.labels


def tiny_model(seed: int = 0, depth: int = 2) -> StagedModel:
    """An 8x8 MLP encoder of ``depth`` (1 or 2) stages and a linear head (hundreds of steps in a second)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        stages = {"fc1": nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU())}
        if depth == 2:
            stages["fc2"] = nn.Sequential(nn.Linear(32, 16), nn.ReLU())
        return StagedModel(stages, nn.Linear(16 if depth == 2 else 32, 10), input_shape=(1, 8, 8))


def make_ctx(model: nn.Module, total_steps: int = 10, lr: float = 0.01, seed: int = 0) -> TrainContext:
    return TrainContext(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9),
        device=torch.device("cpu"),
        num_classes=10,
        generator=torch.Generator().manual_seed(seed + 1),
        normalize=lambda images: images.float().div(255).sub(0.3),
        total_steps=total_steps,
        seed=seed,
    )


def make_batch(source: Tensor, labels: Tensor, target: Tensor, target_labels: Tensor) -> Batch:
    return Batch({
        "labeled": StreamBatch(source, labels, torch.arange(len(source)), pool_size=len(source)),
        "target": StreamBatch(target, target_labels, torch.arange(len(target)), pool_size=len(target)),
    })


def grads(module: nn.Module) -> dict[str, Tensor]:
    return {name: p.grad.clone() for name, p in module.named_parameters() if p.grad is not None}


# -- the gradient reversal layer ----------------------------------------------------------


@pytest.mark.parametrize("lam", [0.0, 0.3, 1.0, 2.5])
def test_grl_is_identity_forward_and_minus_lambda_times_the_numeric_gradient_backward(lam: float) -> None:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(3, 4, generator=generator, dtype=torch.float64)

    def loss(inputs: Tensor) -> Tensor:  # any smooth scalar function of the layer's output
        return (weights * inputs.sin() * inputs).sum()

    out = grad_reverse(x, lam)
    assert out.shape == x.shape and out.dtype == x.dtype and torch.equal(out, x)
    loss(out).backward()
    # central differences of loss(grad_reverse(x)) w.r.t. x: the forward is the identity, so
    # this is the ordinary gradient; the backward pass must return -lam times it
    eps = 1e-6
    numeric = torch.zeros_like(x)
    with torch.no_grad():
        for index in range(x.numel()):
            step = torch.zeros(x.numel(), dtype=torch.float64)
            step[index] = eps
            step = step.view_as(x)
            difference = loss(grad_reverse(x + step, lam)) - loss(grad_reverse(x - step, lam))
            numeric.view(-1)[index] = difference / (2 * eps)
    torch.testing.assert_close(x.grad, -lam * numeric, rtol=1e-6, atol=1e-8)


def test_grl_rejects_bad_inputs_in_one_line() -> None:
    x = torch.zeros(2)
    for lam in (-0.1, math.nan, math.inf):
        with pytest.raises(InputValueError, match="lam=") as error:
            grad_reverse(x, lam)
        assert "\n" not in str(error.value)
    with pytest.raises(InputTypeError, match="lam must be a Python number"):
        grad_reverse(x, torch.tensor(1.0))
    with pytest.raises(InputTypeError, match="floating tensor"):
        grad_reverse(torch.zeros(2, dtype=torch.int64), 1.0)


# -- the lambda ramp ----------------------------------------------------------------------


def test_lambda_ramp_values() -> None:
    assert reversal_weight(0.0) == 0.0
    assert reversal_weight(0.5) == pytest.approx(2 / (1 + math.exp(-5)) - 1) == pytest.approx(0.98661, abs=1e-5)
    assert reversal_weight(1.0) == pytest.approx(2 / (1 + math.exp(-10)) - 1) == pytest.approx(0.99991, abs=1e-5)
    ramp = [reversal_weight(p / 20) for p in range(21)]
    assert all(a < b for a, b in zip(ramp, ramp[1:]))
    assert reversal_weight(0.5, gamma=2.0) == pytest.approx(math.tanh(0.5))


def test_the_step_uses_lambda_of_the_training_progress(digits) -> None:
    images, labels = digits
    ctx = make_ctx(tiny_model(), total_steps=8)
    method = DANN(discriminator_hidden=[8], dropout=0.0)
    method.setup(ctx)
    batch = make_batch(images[:4], labels[:4], images[4:8], labels[4:8])
    for step in (0, 4, 7):
        ctx.step = step
        method.training_step(batch, ctx)
        assert ctx.log.means()["lambda"] == pytest.approx(reversal_weight(step / 8))


# -- where the domain gradient goes -------------------------------------------------------


def test_encoder_gets_the_reversed_domain_gradient_and_the_discriminator_the_normal_one(digits) -> None:
    images, labels = digits
    model = tiny_model()
    ctx = make_ctx(model, total_steps=10)
    method = DANN(discriminator_hidden=[12], dropout=0.0)
    method.setup(ctx)
    discriminator = ctx.modules["discriminator"]
    ctx.step = 5
    lam = reversal_weight(0.5)
    source, target = images[:16], 255 - images[16:32]
    output = method.training_step(make_batch(source, labels[:16], target, labels[16:32]), ctx)
    output.loss.backward()
    got_model, got_discriminator = grads(model), grads(discriminator)

    # reference without the GRL: the two losses' gradients separately
    features = model.forward_features(ctx.normalize(torch.cat([source, target])))
    class_loss = nnf.cross_entropy(model.head(features[:16]), labels[:16])
    domains = torch.cat([torch.zeros(16), torch.ones(16)])
    domain_loss = nnf.binary_cross_entropy_with_logits(discriminator(features.flatten(1)), domains)
    torch.testing.assert_close(output.loss, class_loss + domain_loss)  # the forward is not scaled
    names = [name for name, _ in model.named_parameters()]
    class_grads = dict(zip(names, torch.autograd.grad(class_loss, list(model.parameters()), retain_graph=True)))
    encoder = [(name, p) for name, p in model.named_parameters() if name.startswith("stages.")]
    encoder_grads = torch.autograd.grad(domain_loss, [p for _, p in encoder], retain_graph=True)
    domain_grads = {name: grad for (name, _), grad in zip(encoder, encoder_grads)}
    discriminator_grads = torch.autograd.grad(domain_loss, list(discriminator.parameters()))

    for name, _ in encoder:
        assert domain_grads[name].abs().max() > 1e-6  # the domain loss does reach the encoder
        torch.testing.assert_close(got_model[name], class_grads[name] - lam * domain_grads[name])
    for name in ("head.weight", "head.bias"):  # the label head sees only the source loss
        torch.testing.assert_close(got_model[name], class_grads[name])
    for (name, _), expected in zip(discriminator.named_parameters(), discriminator_grads):
        torch.testing.assert_close(got_discriminator[name], expected)  # no reversal for G_d itself


def test_domain_accuracy_stays_near_chance_with_reversal_and_goes_to_one_without(digits) -> None:
    """The card's falsifier: with the GRL the encoder fights the discriminator (accuracy near
    0.5); with lambda ~ 0 (no reversed gradient) the discriminator separates the domains."""
    images, labels = digits
    source, target = images[:800], 255 - images[800:1600]  # target: inverted digits

    def late_domain_accuracy(gamma: float, steps: int = 200) -> float:
        ctx = make_ctx(tiny_model(depth=1), total_steps=steps, lr=0.01)  # the card's lr
        method = DANN(discriminator_hidden=[32], dropout=0.0, gamma=gamma)
        method.setup(ctx)
        order = torch.Generator().manual_seed(3)
        late = []
        for step in range(steps):
            i, j = torch.randint(800, (32,), generator=order), torch.randint(800, (32,), generator=order)
            train_step(method, make_batch(source[i], labels[i], target[j], labels[800 + j]), ctx)
            if step % 25 == 24:
                accuracy = ctx.log.means()["domain_accuracy"]
                if step >= steps // 2:
                    late.append(accuracy)
        return sum(late) / len(late)

    reversed_accuracy, unreversed_accuracy = late_domain_accuracy(10.0), late_domain_accuracy(1e-6)
    assert unreversed_accuracy > 0.95  # measured 1.0
    assert reversed_accuracy < 0.8  # measured 0.66
    assert reversed_accuracy < unreversed_accuracy - 0.2


# -- the target labels are never read --------------------------------------------------------


def test_target_labels_do_not_change_the_loss_or_the_gradients(digits) -> None:
    images, labels = digits
    source, target = images[:16], images[100:116]
    results = []
    for target_labels in (labels[100:116], labels[100:116].flip(0), torch.full((16,), -1)):
        model = tiny_model()
        ctx = make_ctx(model, total_steps=10)
        method = DANN(discriminator_hidden=[12])  # dropout on: same seed, same masks
        method.setup(ctx)
        ctx.step = 3
        loss = method.training_step(make_batch(source, labels[:16], target, target_labels), ctx).loss
        loss.backward()
        results.append((loss.detach(), grads(model), grads(ctx.modules["discriminator"])))
    first = results[0]
    for other in results[1:]:
        assert torch.equal(first[0], other[0])
        for a, b in zip(first[1:], other[1:]):
            assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_step_is_reproducible_whatever_the_global_rng(digits) -> None:
    images, labels = digits
    losses = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)  # dropout and the head's init draw from the run's generator
        ctx = make_ctx(tiny_model(), total_steps=10)
        method = DANN(discriminator_hidden=[12], dropout=0.5)
        method.setup(ctx)
        losses.append(method.training_step(make_batch(images[:8], labels[:8], images[8:16], labels[8:16]), ctx).loss)
    assert torch.equal(losses[0], losses[1])


def test_discriminator_dropout_only_in_training_mode() -> None:
    discriminator = DomainDiscriminator(6, hidden=[16], dropout=0.5)
    features = torch.randn(64, 6)
    first = discriminator(features, torch.Generator().manual_seed(0))
    second = discriminator(features, torch.Generator().manual_seed(1))
    assert first.shape == (64,) and not torch.equal(first, second)
    discriminator.eval()
    assert torch.equal(discriminator(features, torch.Generator().manual_seed(0)), discriminator(features))


# -- configuration ------------------------------------------------------------------------


def test_registered_with_its_streams_evaluations_and_card_defaults() -> None:
    method = build_method("dann", MethodContext(10, (1, 28, 28)))
    assert isinstance(method, DANN) and "dann" in METHODS
    assert method.streams == ("labeled", "target")
    assert method.evaluations == ("accuracy", "target_accuracy")
    assert method.spec == {"type": "dann", "discriminator_hidden": [1024, 1024], "dropout": 0.5, "gamma": 10.0}


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"discriminator_hidden": [1024, 0]}, "discriminator_hidden"),
        ({"discriminator_hidden": "1024"}, "discriminator_hidden"),
        ({"discriminator_hidden": [1.5]}, "discriminator_hidden"),
        ({"dropout": 1.0}, "dropout"),
        ({"dropout": -0.1}, "dropout"),
        ({"gamma": 0}, "gamma"),
        ({"gamma": math.inf}, "gamma"),
    ],
)
def test_bad_options_raise_one_line_naming_the_option(options: dict, option: str) -> None:
    with pytest.raises(ConfigError, match=f"dann: {option}=") as error:
        build_method({"type": "dann", **options}, MethodContext(10, (1, 8, 8)))
    assert "\n" not in str(error.value)


def test_a_model_without_feature_stages_is_refused_in_one_line() -> None:
    plain = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    with pytest.raises(ConfigError, match="dann: the model is a Sequential") as error:
        DANN().setup(make_ctx(plain))
    assert "\n" not in str(error.value)


def test_a_data_spec_without_target_is_refused_in_one_line() -> None:
    spec = RunSpec.create(dataset="digits", model="harness_cnn", method="dann", seed=0,
                          data=DataSpec(train_size=100), epochs=1, evaluations=())
    with pytest.raises(ConfigError, match="needs the 'target' stream") as error:
        train_run(spec)
    assert "\n" not in str(error.value) and "target: {dataset: NAME}" in str(error.value)


# -- end to end ---------------------------------------------------------------------------


def test_train_run_reports_target_accuracy_and_a_domain_accuracy_curve() -> None:
    spec = RunSpec.create(
        dataset="digits", model="harness_cnn", seed=0, epochs=2, batch_size=50, evaluations=(),
        method={"type": "dann", "discriminator_hidden": [32]},
        data=DataSpec(train_size=150, test_size=100,
                      target=TargetSpec({"type": "digits", "size": 8}, train_size=200, test_size=100)),
        optimizer={"type": "sgd", "lr": 0.01, "momentum": 0.9},
    )
    result = train_run(spec)
    assert 0.0 <= result.metrics["target_accuracy"] <= 1.0
    assert 0.0 <= result.metrics["test_accuracy"] <= 1.0
    curves = {(epoch, name): value for phase, epoch, name, value in result.curves}
    for epoch in (0, 1):
        assert 0.0 <= curves[(epoch, "domain_accuracy")] <= 1.0
        assert math.isfinite(curves[(epoch, "domain_loss")])
    assert 0.0 <= curves[(0, "lambda")] < curves[(1, "lambda")] < 1.0
    again = train_run(spec)  # deterministic on the CPU
    assert again.metrics["target_accuracy"] == result.metrics["target_accuracy"]
    assert again.curves == result.curves
