"""SASRec (causality, padding, tied scores, staged forward) and the HR@10 / NDCG@10 evaluation."""

from __future__ import annotations

import math

import pytest
import torch

from augbench.errors import ConfigError, InputTypeError, InputValueError
from augbench.metrics.ranking import hit_rate_at_k, ndcg_at_k, target_ranks
from augbench.models import MODELS, SASRec, build_model


def _model(**options: object) -> SASRec:
    torch.manual_seed(0)
    model = SASRec(**{"num_classes": 30, "vocab_size": 30, "input_shape": (8,), "dim": 16, **options})
    return model.eval()


def test_built_from_the_data_context() -> None:
    model = build_model("sasrec", num_classes=1684, input_shape=(50,), modality="sequence", vocab_size=1684)
    assert isinstance(model, SASRec) and model.blocks == 2 and model.dim == 64
    assert model(torch.zeros(3, 50, dtype=torch.long).index_fill_(1, torch.tensor([49]), 5)).shape == (3, 1684)
    assert MODELS.get("sasrec") is SASRec


def test_padded_positions_stay_zero_through_every_block() -> None:
    model = _model()
    short = torch.tensor([[0, 0, 0, 0, 0, 4, 9, 2]])
    with torch.no_grad():
        for point in range(1, model.num_stages):  # embed, block1, block2: (B, L, d)
            hidden = model.forward_features(short, stop_at=point)
            assert torch.equal(hidden[0, :5], torch.zeros(5, 16)) and bool(hidden[0, 5:].ne(0).any(-1).all())
        assert torch.isfinite(model(short)).all()


def test_the_state_is_causal_in_the_history() -> None:
    model = _model()
    a = torch.tensor([[3, 4, 5, 6, 7, 8, 9, 10]])
    b = a.clone()
    b[0, -1] = 11  # change the most recent item only
    with torch.no_grad():
        ha, hb = model.forward_features(a, stop_at=3), model.forward_features(b, stop_at=3)  # after block2
    assert torch.allclose(ha[0, :-1], hb[0, :-1], atol=1e-6) and not torch.allclose(ha[0, -1], hb[0, -1])


def test_scores_are_dot_products_with_the_item_embedding() -> None:
    model = _model()
    x = torch.tensor([[0, 0, 3, 4, 5, 1, 6, 7]])  # 1 is the mask id: an ordinary embedding row
    with torch.no_grad():
        state = model.forward_features(x)
        expected = state @ model.stages["embed"].items.weight.T + model.head.bias
        assert torch.allclose(model(x), expected, atol=1e-6)
        for point in range(model.num_stages + 1):
            assert torch.allclose(model.forward_from(model.forward_features(x, stop_at=point), point), model(x), atol=1e-6)


def test_all_padding_rows_give_finite_scores() -> None:
    with torch.no_grad():
        assert torch.isfinite(_model()(torch.zeros(2, 8, dtype=torch.long))).all()


def test_input_and_option_errors() -> None:
    model = _model()
    with pytest.raises(InputTypeError, match="pass int64 item ids"):
        model(torch.zeros(1, 8))
    with pytest.raises(InputValueError, match=r"expected \(B, 8\)"):
        model(torch.zeros(1, 9, dtype=torch.long))
    with pytest.raises(InputValueError, match=r"ids 0..30 fall outside \[0, 30\)"):
        model(torch.tensor([[0, 0, 0, 0, 0, 0, 0, 30]]))
    with pytest.raises(ConfigError, match="needs vocab_size"):
        SASRec(num_classes=10)
    with pytest.raises(ConfigError, match="divisible by heads"):
        SASRec(num_classes=10, vocab_size=10, dim=10, heads=3)
    with pytest.raises(ConfigError, match="num_classes=40 exceeds vocab_size=30"):
        SASRec(num_classes=40, vocab_size=30)
    with pytest.raises(ConfigError, match=r"dropout=1.0 must be a number in \[0, 1\)"):
        SASRec(num_classes=10, vocab_size=10, dropout=1.0)


def test_it_learns_a_deterministic_next_item() -> None:
    """Histories ending in item i are followed by i + 1: a few steps of cross-entropy find it."""
    torch.manual_seed(0)
    model = SASRec(num_classes=20, vocab_size=20, input_shape=(5,), dim=16, dropout=0.0)
    optimizer = torch.optim.Adam(model.parameters(), 0.03)
    last = torch.arange(2, 19)
    inputs = torch.stack([torch.clamp(last - k, min=0) for k in (4, 3, 2, 1, 0)], 1).masked_fill(
        torch.stack([last - k < 2 for k in (4, 3, 2, 1, 0)], 1), 0
    )
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(model(inputs), last + 1)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert float((model(inputs).argmax(1) == last + 1).float().mean()) == 1.0


def test_target_ranks_exclusion_and_ties() -> None:
    scores = torch.tensor([[0.0, 0.9, 0.5, 0.7], [0.2, 0.2, 0.2, 0.2]])
    targets = torch.tensor([2, 1])
    assert target_ranks(scores, targets).tolist() == [2, 3]  # ties count against the target
    excluded = torch.tensor([[False, True, False, False], [True, True, True, False]])
    assert target_ranks(scores, targets, excluded).tolist() == [1, 1]  # the target itself is never excluded
    with pytest.raises(InputValueError, match="NaN"):
        target_ranks(torch.tensor([[float("nan"), 0.0]]), torch.tensor([0]))
    with pytest.raises(InputValueError, match=r"targets must lie in \[0, 2\)"):
        target_ranks(torch.zeros(1, 2), torch.tensor([2]))


def test_hit_rate_and_ndcg_against_the_formula() -> None:
    ranks = torch.tensor([0, 1, 4, 9, 10, 500])
    assert hit_rate_at_k(ranks, 10) == pytest.approx(4 / 6)
    assert ndcg_at_k(ranks, 10) == pytest.approx(sum(1 / math.log2(r + 2) for r in (0, 1, 4, 9)) / 6)
    with pytest.raises(InputValueError, match="k=0"):
        hit_rate_at_k(ranks, 0)


def test_ranking_evaluation_in_a_run(tmp_path) -> None:
    """The registered evaluation on a tiny real-data-free run: a perfect scorer gets HR = NDCG = 1."""
    from augbench.data.streams import RunData, Split
    from augbench.evaluation import EVALUATIONS, EvalContext
    from augbench.methods.supervised import Supervised

    inputs = torch.tensor([[0, 2, 3], [4, 5, 6], [0, 0, 7]])
    labels = torch.tensor([4, 7, 2])

    class Oracle(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            # scores the label highest, and the history items higher still (they must be excluded)
            scores = torch.zeros(x.shape[0], 9)
            scores.scatter_(1, x, 5.0)
            scores[:, 0] = scores[:, 1] = 9.0  # padding and mask ids are never candidates
            return scores.scatter(1, labels[: x.shape[0], None], 3.0)

    split = Split(inputs, labels, torch.arange(3), 3)
    data = RunData({"labeled": split}, {"test": split}, 9, (3,), "sequence")
    ctx = EvalContext(Supervised(), Oracle(), {}, data, lambda x: x, torch.device("cpu"), 0)
    metrics, _ = EVALUATIONS.get("ranking")(ctx)
    assert metrics == {"test_hr@10": 1.0, "test_ndcg@10": 1.0}
