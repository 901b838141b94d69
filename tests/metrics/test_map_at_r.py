"""MAP@R and Recall@K of cosine retrieval against hand computations and a per-query reference."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from augbench.errors import InputTypeError, InputValueError
from augbench.metrics import map_at_r, recall_at_k

# Five points on the unit circle at these angles (degrees): the cosine order is the angular order.
ANGLES = torch.tensor([0.0, 10.0, 25.0, 90.0, 100.0])
POINTS = torch.stack([torch.cos(torch.deg2rad(ANGLES)), torch.sin(torch.deg2rad(ANGLES))], dim=1)
LABELS = torch.tensor([0, 1, 0, 1, 1])


def test_map_at_r_by_hand() -> None:
    # Neighbours by angle distance (nearest first), R = class size - 1:
    # q0 (0 deg,  class 0, R=1): 10(1) 25(0) ...        -> rank 1 wrong           AP = 0
    # q1 (10 deg, class 1, R=2): 0(0) 25(0) 90(1) ...    -> first 2 both wrong     AP = 0
    # q2 (25 deg, class 0, R=1): 10(1) 0(0) ...         -> rank 1 wrong           AP = 0
    # q3 (90 deg, class 1, R=2): 100(1) 25(0) ...        -> P(1) = 1, rank 2 wrong AP = (1 + 0) / 2
    # q4 (100 deg, class 1, R=2): 90(1) 25(0) ...        -> AP = 1/2
    assert map_at_r(POINTS, LABELS) == pytest.approx((0 + 0 + 0 + 0.5 + 0.5) / 5)
    # Recall@k on the same points: hits at k=1: q3, q4; at k=2: q0 (25 deg is class 0), q2 (0 deg), q3, q4;
    # q1's nearest class-1 item is 90 deg at rank 3.
    assert recall_at_k(POINTS, LABELS, ks=(1, 2, 3)) == {1: 2 / 5, 2: 4 / 5, 3: 1.0}


def test_map_at_r_credits_late_hits_by_their_precision() -> None:
    # one query, gallery ranked [same, other, same, same]: R = 3, hits at ranks 1 and 3 within R
    query = torch.tensor([[1.0, 0.0]])
    angles = torch.deg2rad(torch.tensor([5.0, 10.0, 20.0, 30.0]))
    gallery = torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    ap = map_at_r(query, torch.tensor([7]), gallery, torch.tensor([7, 3, 7, 7]))
    assert ap == pytest.approx((1 / 1 + 2 / 3) / 3)  # the hit at rank 4 is beyond R and does not count


def _reference(features: Tensor, labels: Tensor) -> float:
    """MAP@R one query at a time, from a full sort (self-retrieval)."""
    unit = torch.nn.functional.normalize(features.double(), dim=1)
    total = 0.0
    for q in range(len(labels)):
        similarity = unit @ unit[q]
        similarity[q] = float("-inf")
        order = similarity.argsort(descending=True)[:-1]
        relevant = int((labels == labels[q]).sum()) - 1
        hits = (labels[order[:relevant]] == labels[q]).double()
        precision = hits.cumsum(0) / torch.arange(1, relevant + 1, dtype=torch.double)
        total += float((precision * hits).sum()) / relevant
    return total / len(labels)


@pytest.mark.parametrize("chunk", [1, 7, 1024])
def test_map_at_r_matches_a_per_query_reference_for_any_chunk(chunk: int) -> None:
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(60, 5, generator=generator)
    labels = torch.randint(0, 4, (60,), generator=generator)
    assert map_at_r(features, labels, chunk=chunk) == pytest.approx(_reference(features, labels), abs=1e-6)


def test_perfect_and_scale_free() -> None:
    features = torch.tensor([[1.0, 0.0], [2.0, 0.1], [0.0, 1.0], [0.1, 3.0], [0.05, 5.0]])
    labels = torch.tensor([4, 4, 9, 9, 9])
    assert map_at_r(features, labels) == 1.0
    assert map_at_r(features * 10, labels) == 1.0


def test_a_class_with_one_sample_is_one_line_naming_the_fix() -> None:
    with pytest.raises(InputValueError, match=r"class 2 has no other sample .*MAP@R needs >= 2 samples of every class") as info:
        map_at_r(torch.randn(5, 3), torch.tensor([0, 0, 1, 1, 2]))
    assert len(str(info.value).splitlines()) == 1
    with pytest.raises(InputValueError, match="class 5 has no other sample in the gallery"):
        map_at_r(torch.randn(2, 3), torch.tensor([0, 5]), torch.randn(3, 3), torch.tensor([0, 0, 1]))


@pytest.mark.parametrize(("args", "kwargs", "error", "message"), [
    ((torch.randn(3, 2).long(), torch.tensor([0, 0, 1])), {}, InputTypeError, "query_features must be floating"),
    ((torch.randn(3, 2), torch.tensor([0.0, 0.0, 1.0])), {}, InputTypeError, "query_labels must be integer"),
    ((torch.randn(3, 2), torch.tensor([0, 0])), {}, InputValueError, r"query_labels must have shape \(3,\)"),
    ((torch.randn(4, 2), torch.tensor([0, 0, 1, 1]), torch.randn(2, 2)), {}, InputValueError, "pass both gallery"),
    ((torch.tensor([[float("nan"), 0.0], [1.0, 0.0]]), torch.tensor([0, 0])), {}, InputValueError, "NaN or inf"),
    ((torch.randn(2, 2), torch.tensor([0, 0])), {"chunk": 0}, InputValueError, "chunk=0 must be a positive int"),
])
def test_bad_inputs_are_one_line(args: tuple, kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message) as info:
        map_at_r(*args, **kwargs)
    assert len(str(info.value).splitlines()) == 1
