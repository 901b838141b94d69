"""AugMix + JSD (card: policies.md): CE on the clean view plus 12 x JS over (clean, AugMix, AugMix)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as nnf

from augbench.bench.run import train_run
from augbench.bench.spec import RunSpec
from augbench.data.streams import DataSpec
from augbench.methods import AugMixJSD, MethodContext, build_method
from augbench.policies import AugMix, jsd_loss
from augbench.train.context import Batch

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_loss_is_clean_ce_plus_weighted_jsd_of_two_keyed_augmix_views(make_context, digits) -> None:
    method = build_method("augmix", MethodContext(10, (1, 8, 8)))
    assert isinstance(method, AugMixJSD) and method.jsd_weight == 12.0
    assert method.spec == build_method("augmix_jsd", MethodContext(10, (1, 8, 8))).spec  # the preset is the method's defaults
    ctx = make_context()
    images, labels = digits.train_images[:32], digits.train_labels[:32]
    ctx.batch = Batch.labeled(images, labels, torch.arange(32))
    seen: list[torch.Tensor] = []
    model = ctx.model
    ctx.model = lambda x: (seen.append(x), model(x))[1]  # noqa: E731  (capture the one forward pass)
    loss = method.training_step(ctx.batch, ctx).loss
    (inputs,) = seen
    clean, first, second = ctx.normalize(images), *(
        ctx.normalize(AugMix()(images, keys=ctx.keys("labeled", view), seed=ctx.seed)) for view in (1, 2))
    assert torch.equal(inputs, torch.cat([clean, first, second]))  # one batch: the views share batch statistics
    logits = model(inputs).chunk(3)
    expected = nnf.cross_entropy(logits[0], labels) + 12.0 * jsd_loss(*logits)
    torch.testing.assert_close(loss, expected)
    differs = lambda a, b: (a != b).flatten(1).any(1)  # noqa: E731
    # independent draws (views 1 and 2); on grey digits an AugMix chain can be an identity now and then
    assert float(differs(first, second).float().mean()) > 0.9 and float(differs(first, clean).float().mean()) > 0.9


def test_trains_end_to_end_and_logs_the_consistency_term() -> None:
    spec = RunSpec.create(dataset="digits", model="harness_cnn", method="augmix", seed=0, epochs=1,
                          data=DataSpec(train_size=100))
    result = train_run(spec)
    assert {name for _, _, name, _ in result.curves} >= {"train_loss", "jsd"}
    assert 0.0 <= result.metrics["test_accuracy"] <= 1.0 and result.metrics["augmentation_time_fraction"] > 0
