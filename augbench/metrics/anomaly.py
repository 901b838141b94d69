"""Feature-similarity anomaly scores: how far a sample is from the training inliers' features.

:func:`nearest_cosine_score` is the CSI-style detector score (Tack et al., "CSI: Novelty
Detection via Contrastive Learning on Distributionally Shifted Instances", NeurIPS 2020): a test
sample is as normal as its most similar training inlier, by cosine similarity of their features.
The one-class evaluation uses it on any encoder (the SimCLR-feature kNN control) and UniCon-HA
uses it on its own features, so every method is scored by the same formula.
"""

from __future__ import annotations

import torch
from torch import Tensor

from augbench.errors import InputTypeError, InputValueError

__all__ = ["nearest_cosine_score"]

_CHUNK = 4096  # queries per similarity matrix: bounds memory at chunk x bank floats


def nearest_cosine_score(queries: Tensor, bank: Tensor) -> Tensor:
    """Anomaly score ``-max_m cos(q, bank_m)``: larger means farther from every training feature.

    Both sides are L2-normalised (a zero row stays zero and has similarity 0 to everything);
    queries are compared with the bank in chunks of 4,096, so memory is bounded by
    ``4096 x M`` floats. The score is in ``[-1, 1]``; an exact copy of a bank row scores -1.

    Args:
        queries: features of the samples to score.
        bank: features of the training inliers (the reference set).

    Shape:
        ``queries`` ``(N, D)``, ``bank`` ``(M, D)`` floating, ``M >= 1`` -> ``(N,)`` float32
        on the queries' device.

    Raises:
        InputTypeError: non-tensor or non-floating inputs.
        InputValueError: not 2-D, an empty bank, or different feature widths.

    >>> bank = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> nearest_cosine_score(torch.tensor([[2.0, 0.0], [1.0, 1.0]]), bank)
    tensor([-1.0000, -0.7071])
    """
    who = "nearest_cosine_score"
    for name, value in (("queries", queries), ("bank", bank)):
        if not isinstance(value, Tensor) or not value.is_floating_point():
            kind = f"dtype {value.dtype}" if isinstance(value, Tensor) else type(value).__name__
            raise InputTypeError(f"{who}: {name} must be a floating tensor, got {kind}; use .float()")
        if value.ndim != 2:
            raise InputValueError(f"{who}: {name} must be (N, D), got shape {tuple(value.shape)}; flatten the features")
    if bank.shape[0] == 0:
        raise InputValueError(f"{who}: the bank is empty; give at least one training feature")
    if queries.shape[1] != bank.shape[1]:
        raise InputValueError(
            f"{who}: queries have {queries.shape[1]} features, the bank {bank.shape[1]}; use the same encoder for both"
        )
    reference = torch.nn.functional.normalize(bank.float(), dim=1).to(queries.device)
    scores = [
        -(torch.nn.functional.normalize(chunk.float(), dim=1) @ reference.T).amax(1)
        for chunk in queries.split(_CHUNK)
    ]
    return torch.cat(scores) if scores else queries.new_zeros(0, dtype=torch.float32)
