"""AdAutoMix card: an N-image generator that alternately maximises the classifier's mixed loss."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest
import torch

from augbench.bench.run import train_run
from augbench.bench.spec import RunSpec
from augbench.data.streams import DataSpec
from augbench.errors import ConfigError
from augbench.losses import soft_cross_entropy
from augbench.methods import AdAutoMix, AutoMix, MethodContext, build_method
from augbench.train.context import Batch, TrainContext
from augbench.methods.adautomix import MultiMixBlock
from augbench.models.ema import cosine_momentum

HARNESS_MOMENTUM = (0.9, 0.999999)


@pytest.fixture(autouse=True)
def _one_thread(single_thread: Callable[[], AbstractContextManager[None]]) -> Iterator[None]:
    with single_thread():
        yield


def first_batch(digits, size: int = 50) -> Batch:
    return Batch.labeled(digits.train_images[:size], digits.train_labels[:size], torch.arange(size))


def test_generator_masks_are_a_partition_of_unity() -> None:
    torch.manual_seed(0)
    block = MultiMixBlock(channels=6)
    lam = torch.softmax(torch.randn(4, 3), dim=1)
    masks = block(torch.randn(4, 3, 6, 2, 2), lam, (4, 4))
    assert masks.shape == (4, 3, 4, 4) and masks.dtype == torch.float32
    assert bool((masks > 0).all())
    torch.testing.assert_close(masks.sum(1), torch.ones(4, 4, 4))
    for module in (block.query, block.key, block.value):  # untrained: the linear mix's masks
        torch.nn.init.zeros_(module.weight)
        torch.nn.init.zeros_(module.bias)
    masks = block(torch.randn(4, 3, 6, 2, 2), lam, (4, 4))
    torch.testing.assert_close(masks, lam[..., None, None].expand(4, 3, 4, 4))


def test_draw_normalises_lambda_and_keeps_sample_zero(make_context) -> None:
    ctx = make_context()
    lam, sources = AdAutoMix(mix_samples=3).draw(40, ctx)
    assert lam.shape == (40, 3) and sources.shape == (3, 40)
    torch.testing.assert_close(lam.sum(1), torch.ones(40))
    assert torch.equal(sources[0], torch.arange(40))
    assert all(torch.equal(row.sort().values, torch.arange(40)) for row in sources)  # permutations
    assert not torch.equal(sources[1], sources[2])


def test_steps_alternate_adversarial_and_cooperative(make_context, train_step, digits) -> None:
    ctx = make_context(total_steps=4)
    method = AdAutoMix()
    method.setup(ctx)
    flags = []
    for _ in range(4):
        train_step(method, first_batch(digits, 10), ctx)
        flags.append(ctx.log.means()["adversarial"])
    assert flags == [1.0, 0.0, 1.0, 0.0]


def test_generator_loss_reaches_only_the_generator(make_context, digits) -> None:
    ctx = make_context()
    method = AdAutoMix()
    method.setup(ctx)
    with ctx.timer.step(50):
        losses = method.losses(first_batch(digits), ctx)  # step 0: the adversarial step
    generator = list(method.block.parameters())
    model = list(ctx.model.parameters())
    assert all(g is None for g in torch.autograd.grad(losses.mix_block, model, retain_graph=True, allow_unused=True))
    unused = torch.autograd.grad(losses.classifier, generator, retain_graph=True, allow_unused=True)
    assert all(g is None for g in unused)
    assert all(g is not None for g in torch.autograd.grad(losses.mix_block, generator))
    assert ctx.extra_optimizers == [method.block_optimizer]


def test_cosine_sign_flips_the_similarity_term(make_context, digits) -> None:
    values = {}
    for sign in (-1, 1):
        ctx = make_context(seed=2)
        method = AdAutoMix(beta_weight=0.0, cosine_sign=sign)  # generator loss = sign * sum_i lam_i cos
        method.setup(ctx)
        with ctx.timer.step(50):
            values[sign] = float(method.losses(first_batch(digits), ctx).mix_block.detach())
    assert values[-1] == pytest.approx(-values[1])
    assert 0.0 < values[1] <= 1.0  # ReLU features: similarity to the sources is positive


def test_teacher_follows_the_ema_rule(make_context, train_step, digits) -> None:
    ctx = make_context(total_steps=10)
    method = AdAutoMix(momentum=(0.5, 0.9))
    method.setup(ctx)
    before = [p.clone() for p in method.encoder.model.parameters()]
    train_step(method, first_batch(digits), ctx)
    m = cosine_momentum(1, 10, 0.5, 0.9)
    for old, new, online in zip(before, method.encoder.model.parameters(), ctx.model.parameters()):
        torch.testing.assert_close(new, m * old + (1 - m) * online.detach())


def test_adversarial_generator_raises_the_loss_over_automix_masks(
    trained_automix: tuple[AutoMix, TrainContext], make_context: Callable[..., TrainContext], digits
) -> None:
    # a classifier, teacher and cooperative Mix Block trained together by AutoMix
    automix, trained_ctx = trained_automix
    ctx = make_context()
    ctx.model.load_state_dict(trained_ctx.model.state_dict())
    # a two-image AdAutoMix generator with the same teacher, trained by adversarial steps only
    adversary = AdAutoMix(mix_samples=2, momentum=HARNESS_MOMENTUM)
    adversary.setup(ctx)
    adversary.encoder = automix.encoder
    ctx.step = 0  # even: adversarial
    for _ in range(20):
        adversary.block_optimizer.zero_grad(set_to_none=True)
        with ctx.timer.step(200):
            adversary.losses(first_batch(digits, 200), ctx).mix_block.backward()
        adversary.block_optimizer.step()
    # both at the same lam and partner on held-out digits, judged by the classifier f_q
    generator = torch.Generator().manual_seed(3)
    images = ctx.normalize(digits.test_images[:300])
    labels = torch.nn.functional.one_hot(digits.test_labels[:300], 10).float()
    lam = 0.3 + 0.4 * torch.rand(300, generator=generator)
    index = torch.randperm(300, generator=generator)
    targets = lam[:, None] * labels + (1 - lam[:, None]) * labels[index]
    with torch.no_grad():
        automix_masks = automix.masks(automix.features(images), index, lam, (8, 8))
        sources = torch.stack([torch.arange(300), index])
        adversarial_masks = adversary.masks(adversary.features(images), sources, torch.stack([lam, 1 - lam], 1), (8, 8))

        def mixed_loss(partner_weight: torch.Tensor) -> float:
            mixed = images + partner_weight * (images[index] - images)
            return float(soft_cross_entropy(ctx.model(mixed), targets))

        automix_loss = mixed_loss(automix_masks)
        adversarial_loss = mixed_loss(adversarial_masks[:, 1:])
        mixup_loss = mixed_loss((1 - lam).view(-1, 1, 1, 1))
    assert adversarial_loss > automix_loss + 0.2
    assert adversarial_loss > mixup_loss + 0.2  # harder than the linear mix it starts from


def test_recipe_trains_end_to_end() -> None:
    assert isinstance(build_method("adautomix", MethodContext(10, (1, 8, 8))), AdAutoMix)
    spec = RunSpec.create(dataset="digits", model="harness_cnn", method="adautomix", seed=0, epochs=2,
                          data=DataSpec(train_size=100))
    result = train_run(spec)
    assert all(math.isfinite(value) for *_, value in result.curves)
    assert 0.0 <= result.metrics["test_accuracy"] <= 1.0
    assert 0.0 < result.metrics["augmentation_time_fraction"] < 1.0  # generator work is timed


@pytest.mark.parametrize(
    "options",
    [
        {"mix_samples": 1},
        {"beta_weight": 1.5},
        {"mixup_ratio": -0.1},
        {"lam_margin": 0.4},
        {"cosine_sign": 0},
        {"alpha": -1.0},
    ],
)
def test_bad_options_raise(options: dict) -> None:
    with pytest.raises(ConfigError):
        AdAutoMix(**options)
