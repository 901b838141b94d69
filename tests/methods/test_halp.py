"""HaLP (card: shared/methods/contrastive.md, "HaLP"; issue 14 item 7), built on MoCo.

The checklist (the card's falsifiers and pitfalls): t_max makes the positive as similar to P0 as
to Ps, and a smaller t keeps it closer to P0; positives are unit vectors on the slerp path with t
in [(1 - lambda) t_max, t_max]; lambda = 0 gives p = k; the rank filter keeps exactly the
positives whose nearest prototype is still P0; k-means runs on the newest queue KEYS, never the
queries, every prototype_every steps; no generation before the queue has filled once; p carries
no gradient and the loss is L_MoCo + mu * mean(-q.p / T) over the kept positives; bad options are
one line. Tiny models (a width-0.25 harness CNN on 8x8 digits), a queue of 64 keys, a few steps.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as nnf
from torch import Tensor

from augbench.data import load_dataset
from augbench.errors import ConfigError
from augbench.losses import info_nce
from augbench.methods import HaLP, MethodContext, build_method, resolve_method
from augbench.methods import halp as halp_module
from augbench.methods.halp import halp_t_max, hallucinate_positives, slerp, spherical_kmeans
from augbench.models import HarnessCNN
from augbench.train.context import Batch, StreamBatch, TrainContext
from augbench.train.loop import train_step

CROP = {"type": "RandomResizedCrop", "size": None, "scale": [0.3, 1.0]}
SMALL = {"queue_size": 64, "projection_dim": 8, "hidden_dim": 16, "momentum": 0.9, "augment": CROP,
         "prototypes": 4, "prototype_keys": 32, "positives": 10, "prototype_every": 3, "temperature": 0.2}

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def digits() -> tuple[Tensor, Tensor]:
    dataset = load_dataset("digits")
    return dataset.inputs[:128], dataset.labels[:128]


def halp(**options: object) -> HaLP:
    return build_method({"type": "halp", **SMALL, **options}, MethodContext(10, (1, 8, 8)))


def context(method: HaLP, seed: int = 0) -> TrainContext:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = HarnessCNN(in_channels=1, num_classes=10, image_size=(8, 8), width=0.25)
    ctx = TrainContext(model, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9), torch.device("cpu"), 10,
                       torch.Generator().manual_seed(seed + 1), lambda images: images.float() / 255 * 3 - 1, 100,
                       seed=seed)
    method.setup(ctx)
    return ctx


def batch(images: Tensor, labels: Tensor, start: int, size: int = 16) -> Batch:
    ids = torch.arange(start, start + size) % len(images)
    return Batch({"labeled": StreamBatch(images[ids], labels[ids], ids, pool_size=1000)})


def unit(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float64) -> Tensor:
    return nnf.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype), dim=-1)


def anchored(seed: int) -> tuple[Tensor, Tensor, Tensor]:
    """Random unit keys (200, 16), and per key its nearest of 6 prototypes P0 and another Ps."""
    keys, prototypes = unit(200, 16, seed=seed), unit(6, 16, seed=seed + 100)
    similarity = keys @ prototypes.T
    nearest = similarity.argmax(1)
    other = (nearest + 1 + torch.arange(200) % 5) % 6
    return keys, prototypes[nearest], prototypes[other]


# -- the closed-form step ------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_t_max_puts_the_positive_exactly_between_p0_and_ps(seed: int) -> None:
    keys, nearest, other = anchored(seed)
    t_max, omega = halp_t_max(keys, nearest, other)
    torch.testing.assert_close(omega, torch.arccos((keys * other).sum(1)))
    assert bool((t_max > 0).all() and (t_max < 1).all())
    at_max = slerp(keys, other, t_max, omega)
    torch.testing.assert_close((at_max * nearest).sum(1), (at_max * other).sum(1), rtol=0, atol=1e-9)
    for fraction in (0.2, 0.6, 0.95):  # before t_max: strictly closer to P0 than to Ps
        inside = slerp(keys, other, fraction * t_max, omega)
        assert bool(((inside * nearest).sum(1) > (inside * other).sum(1)).all())
    beyond = slerp(keys, other, (1.05 * t_max).clamp(max=1), omega)  # past it: closer to Ps
    assert bool(((beyond * nearest).sum(1) < (beyond * other).sum(1)).all())
    # the card's form (1 / omega) atan(sin omega / (K + cos omega)) wherever K + cos omega > 0
    big_k = (1 - (other * nearest).sum(1)) / (keys * (nearest - other)).sum(1)
    positive = big_k + torch.cos(omega) > 0
    card = torch.atan(torch.sin(omega) / (big_k + torch.cos(omega))) / omega
    assert bool(positive.any())
    torch.testing.assert_close(t_max[positive], card[positive])


def test_a_wrong_t_max_would_be_caught() -> None:
    """The test above fails for a plausible mistake (omega from k . P0 instead of k . Ps)."""
    keys, nearest, other = anchored(3)
    t_max, _ = halp_t_max(keys, nearest, other)
    wrong_omega = torch.arccos((keys * nearest).sum(1).clamp(-1, 1 - 1e-6))
    at_max = slerp(keys, other, t_max, wrong_omega)
    gap = ((at_max * nearest).sum(1) - (at_max * other).sum(1)).abs()
    assert float(gap.max()) > 1e-3


def test_slerp_is_a_unit_geodesic() -> None:
    keys, _, other = anchored(4)
    omega = torch.arccos((keys * other).sum(1))
    torch.testing.assert_close(slerp(keys, other, torch.zeros(200, dtype=torch.float64), omega), keys)
    torch.testing.assert_close(slerp(keys, other, torch.ones(200, dtype=torch.float64), omega), other)
    half = slerp(keys, other, torch.full((200,), 0.5, dtype=torch.float64), omega)
    torch.testing.assert_close(half.norm(dim=1), torch.ones(200, dtype=torch.float64))
    torch.testing.assert_close((half * keys).sum(1), torch.cos(omega / 2))


# -- the positives -------------------------------------------------------------------------------


def test_positives_are_unit_on_the_path_within_the_hardness_range_and_rank_filtered() -> None:
    keys, prototypes = unit(32, 16, seed=5, dtype=torch.float32), unit(5, 16, seed=6, dtype=torch.float32)
    positives, kept, t = hallucinate_positives(keys, prototypes, 50, 0.8, torch.Generator().manual_seed(0))
    assert positives.shape == (32, 50, 16) and kept.shape == t.shape == (32, 50) and kept.dtype == torch.bool
    torch.testing.assert_close(positives.norm(dim=-1), torch.ones(32, 50))
    nearest = (keys @ prototypes.T).argmax(1)
    # recover each positive's Ps as the prototype its path leads to: the one making p a slerp of (k, Ps, t)
    anchors = keys[:, None].expand_as(positives)
    matches = []
    for index in range(5):
        end = prototypes[index].expand_as(positives)
        t_max, omega = halp_t_max(anchors, prototypes[nearest][:, None].expand_as(positives), end)
        path = slerp(anchors, end, t, omega)
        matches.append(((path - positives).norm(dim=-1) < 1e-4) & (t <= t_max + 1e-6) & (t >= 0.2 * t_max - 1e-6))
    on_path = torch.stack(matches, -1)  # (B, M, P)
    assert bool(on_path.any(-1).all())  # every positive is on a path with t in [0.2 t_max, t_max]
    assert not bool(on_path.gather(-1, nearest[:, None, None].expand(32, 50, 1)).any())  # never towards P0
    expected = (positives @ prototypes.T).argmax(-1) == nearest[:, None]
    assert torch.equal(kept, expected) and 0.5 < float(kept.float().mean()) < 1.0
    assert float(t.std()) > 0  # t is drawn, not fixed


def test_lambda_zero_gives_the_key_itself() -> None:
    keys, prototypes = unit(8, 16, seed=7, dtype=torch.float32), unit(4, 16, seed=8, dtype=torch.float32)
    positives, kept, t = hallucinate_positives(keys, prototypes, 5, 0.0, torch.Generator().manual_seed(0))
    assert torch.equal(positives, keys[:, None].expand(8, 5, 16)) and bool(kept.all()) and not bool(t.any())


def test_spherical_kmeans_finds_separated_clusters_and_is_seeded() -> None:
    centres = unit(3, 16, seed=9, dtype=torch.float32) * 4
    points = nnf.normalize(centres.repeat_interleave(40, 0) + 0.3 * torch.randn(120, 16, generator=torch.Generator()
                                                                                   .manual_seed(1)), dim=1)
    found = spherical_kmeans(points, 3, 10, torch.Generator().manual_seed(2))
    torch.testing.assert_close(found.norm(dim=1), torch.ones(3))
    best = (found @ nnf.normalize(centres, dim=1).T).amax(0)
    assert float(best.min()) > 0.95  # every true centre has a prototype next to it
    again = spherical_kmeans(points, 3, 10, torch.Generator().manual_seed(2))
    assert torch.equal(found, again)


# -- the method ----------------------------------------------------------------------------------


def test_no_generation_before_the_queue_has_filled_once(digits: tuple[Tensor, Tensor],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    method = halp()
    ctx = context(method)
    images, labels = digits
    calls: list[int] = []
    real = halp_module.hallucinate_positives

    def recording(*args: object, **kwargs: object) -> tuple[Tensor, Tensor, Tensor]:
        calls.append(ctx.step)
        return real(*args, **kwargs)

    monkeypatch.setattr(halp_module, "hallucinate_positives", recording)
    for step in range(6):  # 64 / 16 = 4 steps fill the queue; generation from the 5th step
        train_step(method, batch(images, labels, 16 * step), ctx)
    assert calls == [4, 5]
    means = ctx.log.means()
    assert means["halp_active"] == pytest.approx(2 / 6) and means["halp_kept"] > 0.5


def test_warmup_epochs_of_plain_moco_come_first(digits: tuple[Tensor, Tensor]) -> None:
    method = halp(warmup_epochs=2)
    ctx = context(method)
    images, labels = digits
    active = []
    for epoch in range(3):
        ctx.epoch = epoch
        for step in range(5):  # the queue is full from the 5th step of epoch 0
            train_step(method, batch(images, labels, 16 * step), ctx)
        active.append(ctx.log.means()["halp_active"])
        ctx.log = type(ctx.log)()
    assert active == [0.0, 0.0, 1.0]


def test_kmeans_clusters_the_newest_queue_keys_every_prototype_every_steps(
        digits: tuple[Tensor, Tensor], monkeypatch: pytest.MonkeyPatch) -> None:
    method = halp()
    ctx = context(method)
    images, labels = digits
    seen: list[tuple[int, Tensor]] = []
    queries: list[Tensor] = []
    real_kmeans, real_embed = halp_module.spherical_kmeans, HaLP.embed

    def recording(points: Tensor, *args: object) -> Tensor:
        seen.append((ctx.step, points.clone()))
        return real_kmeans(points, *args)

    def embed(self: HaLP, ctx: TrainContext) -> tuple[Tensor, Tensor]:
        pair = real_embed(self, ctx)
        queries.append(pair[0].detach().clone())
        return pair

    monkeypatch.setattr(halp_module, "spherical_kmeans", recording)
    monkeypatch.setattr(HaLP, "embed", embed)
    newest: dict[int, Tensor] = {}
    for step in range(10):
        newest[step] = method.queue.oldest_first()[-32:].clone()
        train_step(method, batch(images, labels, 16 * step), ctx)
    assert [step for step, _ in seen] == [4, 6, 9]  # when it first fills, then steps % 3 == 0
    for step, points in seen:
        assert torch.equal(points, newest[step])  # the 32 newest keys of the queue
        assert not any(torch.equal(points[-16:], query) for query in queries)  # never the queries


def test_loss_is_moco_plus_mu_times_the_kept_positive_term_and_p_is_detached(
        digits: tuple[Tensor, Tensor], monkeypatch: pytest.MonkeyPatch) -> None:
    method = halp(mu=1.5)
    ctx = context(method)
    images, labels = digits
    for step in range(5):
        train_step(method, batch(images, labels, 16 * step), ctx)
    made: list[tuple[Tensor, Tensor]] = []
    real = halp_module.hallucinate_positives

    def recording(*args: object, **kwargs: object) -> tuple[Tensor, Tensor, Tensor]:
        positives, kept, t = real(*args, **kwargs)
        made.append((positives, kept))
        return positives, kept, t

    monkeypatch.setattr(halp_module, "hallucinate_positives", recording)
    ctx.batch = batch(images, labels, 80)
    loss = method.training_step(ctx.batch, ctx).loss
    positives, kept = made[0]
    assert not positives.requires_grad and positives.grad_fn is None
    with torch.no_grad():
        query_images, key_images = method.views(ctx)
        features = ctx.model.forward_features(ctx.normalize(query_images)).flatten(1)
        queries = nnf.normalize(ctx.modules["projector"](features), dim=1)
        keys = method.key_encoder.model(ctx.normalize(key_images))
        moco = info_nce(queries, keys, method.queue.keys, 0.2)
        similarity = torch.einsum("bd,bmd->bm", queries, positives)
        term = -(similarity[kept]).mean() / 0.2
    torch.testing.assert_close(loss.detach(), moco + 1.5 * term)
    # the gradient reaches the query network only: p and the key network take none
    loss.backward()
    assert all(p.grad is None for p in method.key_encoder.model.parameters())
    assert next(ctx.modules["projector"].parameters()).grad is not None


def test_mu_zero_is_moco(digits: tuple[Tensor, Tensor]) -> None:
    from augbench.methods import MoCo

    images, labels = digits
    plain = build_method({"type": "moco", **{k: SMALL[k] for k in ("queue_size", "projection_dim", "hidden_dim",
                                                                     "momentum", "augment", "temperature")}},
                         MethodContext(10, (1, 8, 8)))
    assert isinstance(plain, MoCo)
    off = halp(mu=0.0)
    contexts = context(plain), context(off)
    for step in range(6):
        losses = [train_step(m, batch(images, labels, 16 * step), c).loss for m, c in zip((plain, off), contexts)]
        torch.testing.assert_close(losses[0], losses[1])


# -- options ---------------------------------------------------------------------------------------


def test_spec_has_the_cards_defaults() -> None:
    spec = resolve_method("halp")
    assert spec["prototypes"] == 20 and spec["positives"] == 100 and spec["hardness"] == 0.8
    assert spec["prototype_every"] == 10 and spec["prototype_keys"] == 256 and spec["temperature"] == 0.07
    assert math.isclose(spec["mu"], 1.0)


@pytest.mark.parametrize(("options", "message"), [
    ({"hardness": 1.5}, r"halp: hardness=1.5 must be a number in \[0, 1\]"),
    ({"mu": -1}, "halp: mu=-1 must be a number >= 0"),
    ({"prototypes": 1}, "halp: prototypes=1 must be an integer >= 2"),
    ({"positives": 0}, "halp: positives=0 must be an integer >= 1"),
    ({"prototype_keys": 128}, "halp: need prototypes <= prototype_keys <= queue_size, got 4, 128, 64"),
    ({"temperature": 0}, "halp: temperature=0 must be a positive number"),
    ({"warmup_epochs": -1}, "halp: warmup_epochs=-1 must be an integer >= 0"),
])
def test_bad_options_are_one_line(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        halp(**options)
    assert len(str(info.value).splitlines()) == 1
