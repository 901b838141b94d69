"""The text CNN, the token-span CutMix and RandAugment over the text policy ops."""

from __future__ import annotations

import pytest
import torch

from augbench.errors import InputTypeError, InputValueError
from augbench.mix import MIXERS, TextCutMix
from augbench.models import build_model
from augbench.models.text_cnn import TextCNN
from augbench.policies.modal import ModalityRandAugment, list_ops


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# -- model --------------------------------------------------------------------------------------


def test_text_cnn_from_the_run_context_and_padding_invariance(ragged):
    model = build_model("text_cnn", num_classes=3, input_shape=(10,), modality="text", vocab_size=60).eval()
    ids = ragged([[5, 6, 7], [8], [9, 10, 11, 12, 13]], length=10)
    logits = model(ids)
    assert logits.shape == (3, 3)
    longer = torch.cat([ids, torch.zeros(3, 7, dtype=torch.int64)], 1)
    torch.testing.assert_close(model(longer), logits), "more padding changes nothing"
    torch.testing.assert_close(model(ids[1:2, :1]), logits[1:2])
    hidden = model.forward_features(ids, stop_at=1)
    torch.testing.assert_close(model.forward_from(hidden, 1), logits)
    assert model.forward_features(ids).shape == (3, 192)


def test_text_cnn_gets_gradients_and_keeps_the_padding_vector_zero(ragged):
    model = TextCNN(vocab_size=20, num_classes=2, input_shape=(6,))
    loss = model(ragged([[3, 4, 5], [6, 7]], length=6)).sum()
    loss.backward()
    assert model.stages["embed"].embedding.weight.grad[0].abs().sum() == 0
    assert model.stages["embed"].embedding.weight[0].abs().sum() == 0


def test_text_cnn_refuses_bad_input():
    model = TextCNN(vocab_size=20, num_classes=2)
    with pytest.raises(InputTypeError, match="int64 token ids"):
        model(torch.zeros(2, 5))
    with pytest.raises(InputValueError, match=r"ids must lie in \[0, 20\)"):
        model(torch.tensor([[3, 25]]))
    with pytest.raises(InputValueError, match=r"expected \(B, L\)"):
        model(torch.tensor([3, 4]))


# -- mixing -------------------------------------------------------------------------------------


def test_text_cutmix_weight_is_the_share_of_tokens_kept(demo_batch):
    ids = demo_batch()
    labels = torch.arange(ids.shape[0]) % 2
    mixer = MIXERS.build("text_cutmix", num_classes=2)
    result = mixer(ids, labels, generator=_gen())
    assert torch.equal(result.inputs != 0, ids != 0), "lengths and padding unchanged"
    kept = ((result.inputs == ids) & (ids != 0)).sum(1).float()
    lengths = (ids != 0).sum(1).float()
    assert bool((result.lam <= 1).all() and (result.lam * lengths <= kept + 1e-6).all())
    torch.testing.assert_close(result.targets.sum(1), torch.ones(ids.shape[0]))
    for b in range(ids.shape[0]):
        row, own, partner = result.inputs[b].tolist(), ids[b].tolist(), ids[result.index[b]].tolist()
        n, m = int(lengths[b]), sum(t != 0 for t in partner)
        size = round(float((1 - result.lam[b]) * n))
        assert size <= m
        assert any(row[:s] + row[s + size:] == own[:s] + own[s + size:] and row[s : s + size] == partner[q : q + size]
                   for s in range(n - size + 1) for q in range(m - size + 1)), "one span of the partner pasted"
    params = mixer.sample(ids, labels, generator=_gen(1))
    assert torch.equal(mixer.apply(ids, labels, params).inputs, mixer.apply(ids, labels, params).inputs)


def test_text_cutmix_batchwide_and_bad_input(ragged):
    ids = ragged([[5, 6, 7, 8], [9, 10, 0, 0], [11, 12, 13, 0]])
    result = TextCutMix(2, per_sample=False)(ids, torch.tensor([0, 1, 0]), generator=_gen())
    assert result.inputs.shape == ids.shape
    with pytest.raises(InputValueError, match="all padding"):
        TextCutMix(2)(torch.tensor([[5, 6], [0, 0]]), torch.tensor([0, 1]), generator=_gen())
    with pytest.raises(InputTypeError, match="integer ids"):
        TextCutMix(2)(torch.rand(2, 4), torch.tensor([0, 1]), generator=_gen())
    assert TextCutMix.from_dict(TextCutMix(2, alpha=0.4).to_dict()).alpha == 0.4


# -- policy -------------------------------------------------------------------------------------


def test_text_randaugment(demo_batch):
    assert [name for name, _ in list_ops("text")] == ["Swap", "Delete", "Mask", "Crop"]
    ids = demo_batch()
    policy = ModalityRandAugment("text", num_ops=2, magnitude=9)
    out = policy(ids, generator=_gen())
    assert out.shape == ids.shape and bool(((out != 0).sum(1) >= 1).all())
    assert not torch.equal(out, ids)
    assert torch.equal(ModalityRandAugment("text", num_ops=3, magnitude=0)(ids, generator=_gen()), ids)
    keys = torch.arange(100, 100 + ids.shape[0])
    whole = policy(ids, keys=keys, seed=3)
    assert torch.equal(whole[5:9], policy(ids[5:9], keys=keys[5:9], seed=3))


def test_cli_lists_the_text_ops(capsys):
    from augbench.cli import main

    main(["list", "ops", "--modality", "text"])
    printed = capsys.readouterr().out
    assert all(name in printed for name in ("Swap", "Delete", "Mask", "Crop"))
