"""SASRec (Kang & McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018), small.

Causal self-attention over a left-padded ``(B, L)`` history of item ids; the state of the last
position (the most recent item) scores every id with the transposed item embedding (tied
weights) plus a per-id bias, so ``forward`` gives ``(B, num_classes)`` logits of the next item
and the benchmark trains it with plain cross-entropy over all items, as a classifier.

Simplified or changed from the paper: cross-entropy over the full catalogue on the last
position only (the paper: binary cross-entropy with one sampled negative at every position;
full softmax cross-entropy is the stronger variant, Klenitskiy & Vasilev, RecSys 2023); the
standard pre-LayerNorm residual blocks (the paper adds the attention output to the normalised
query); a per-id output bias (the paper has none). As in the paper: a ReLU feed-forward,
learned positions, dropout on embeddings, attention weights and feed-forward. Defaults:
2 blocks, d = 64, 1 head, dropout 0.2.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

from augbench.errors import ConfigError, InputTypeError, InputValueError
from augbench.models.registry import MODELS
from augbench.models.staged import StagedModel

__all__ = ["SASRec"]


class _Embed(nn.Module):
    """Ids ``(B, L)`` -> ``sqrt(d) * item + position`` ``(B, L, d)`` with padding rows exactly 0."""

    def __init__(self, items: nn.Embedding, length: int, dropout: float) -> None:
        super().__init__()
        self.items = items
        self.positions = nn.Embedding(length, items.embedding_dim)
        nn.init.normal_(self.positions.weight, std=items.embedding_dim ** -0.5)
        self.dropout = nn.Dropout(dropout)

    def forward(self, ids: Tensor) -> Tensor:
        dim = self.items.embedding_dim
        hidden = self.items(ids) * math.sqrt(dim) + self.positions.weight
        return self.dropout(hidden) * (ids != 0).unsqueeze(-1)


class _Block(nn.Module):
    """Pre-LN causal self-attention + feed-forward; padding (all-zero rows) is never attended to
    and stays 0, so the mask travels with the hidden state between stages."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.attention_norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.feed_forward_norm = nn.LayerNorm(dim)
        self.feed_forward = nn.Sequential(
            nn.Linear(dim, dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(dim, dim), nn.Dropout(dropout)
        )

    def forward(self, hidden: Tensor) -> Tensor:
        batch, length, dim = hidden.shape
        present = hidden.ne(0).any(-1)  # (B, L)
        causal = torch.ones(length, length, dtype=torch.bool, device=hidden.device).tril()
        eye = torch.eye(length, dtype=torch.bool, device=hidden.device)
        allowed = (causal & present[:, None, :]) | eye  # a padded query sees itself only
        q, k, v = self.qkv(self.attention_norm(hidden)).view(batch, length, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        attended = nnf.scaled_dot_product_attention(
            q, k, v, attn_mask=allowed[:, None], dropout_p=self.dropout if self.training else 0.0
        )
        hidden = hidden + self.out(attended.transpose(1, 2).reshape(batch, length, dim))
        hidden = hidden + self.feed_forward(self.feed_forward_norm(hidden))
        return hidden * present.unsqueeze(-1)


class _Last(nn.Module):
    """``(B, L, d)`` -> LayerNorm of the last position's state ``(B, d)``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)

    def forward(self, hidden: Tensor) -> Tensor:
        return self.norm(hidden[:, -1])


class _TiedHead(nn.Module):
    """``(B, d)`` -> ``(B, num_classes)``: dot products with the first ``num_classes`` item
    embeddings plus a learned bias per id (without it the all-zero padding row would pin the
    padding score at 0, above most items once training pushes their scores down)."""

    def __init__(self, items: nn.Embedding, num_classes: int) -> None:
        super().__init__()
        self.items = items
        self.num_classes = num_classes
        self.bias = nn.Parameter(torch.zeros(num_classes))

    def forward(self, state: Tensor) -> Tensor:
        return state @ self.items.weight[: self.num_classes].T + self.bias


@MODELS.register("sasrec")
class SASRec(StagedModel):
    """SASRec: item + position embedding, ``blocks`` causal self-attention blocks, tied output.

    Ids: 0 is padding (its embedding row stays 0 and is never attended to), every other id in
    ``[1, vocab_size)`` has a learned row, the mask id 1 of
    :mod:`augbench.functional.sequence` included, so masked histories need nothing special.

    Stages (see :class:`~augbench.models.staged.StagedModel`): ``embed`` -> ``(B, L, d)``,
    ``block1`` .. ``blockN`` -> ``(B, L, d)`` (padded positions are all-zero rows), ``last`` ->
    ``(B, d)`` (LayerNorm of the most recent position: ``forward_features``); head: scores of ids
    ``0 .. num_classes - 1``, the dot product with their item embedding plus a per-id bias.

    Args:
        num_classes: number of outputs (ids scored), ``2 <= num_classes <= vocab_size``.
        vocab_size: embedding rows: padding, mask and items (the dataset's ``vocab_size``).
        input_shape: ``(L,)``, the history length.
        dim: embedding and hidden width ``d`` (divisible by ``heads``).
        blocks: number of self-attention blocks, >= 1.
        heads: attention heads, >= 1.
        dropout: dropout probability in [0, 1) (embeddings, attention, feed-forward).

    Shape:
        ``(B, L)`` int64 ids in ``[0, vocab_size)``, left-padded -> ``(B, num_classes)`` float logits.

    >>> model = SASRec(num_classes=10, vocab_size=10, input_shape=(6,), dim=8)
    >>> model(torch.tensor([[0, 0, 2, 5, 3, 1]])).shape, model.forward_features(torch.tensor([[0, 0, 0, 0, 0, 4]])).shape
    (torch.Size([1, 10]), torch.Size([1, 8]))
    """

    def __init__(
        self,
        num_classes: int = 2,
        vocab_size: int | None = None,
        input_shape: tuple[int, ...] = (50,),
        dim: int = 64,
        blocks: int = 2,
        heads: int = 1,
        dropout: float = 0.2,
    ) -> None:
        if vocab_size is None:
            raise ConfigError("sasrec: needs vocab_size from a dataset of item ids (modality 'sequence')")
        for option, value, low in (("vocab_size", vocab_size, 2), ("num_classes", num_classes, 2), ("dim", dim, 1),
                                   ("blocks", blocks, 1), ("heads", heads, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"sasrec: {option}={value!r} must be a whole number >= {low}")
        if num_classes > vocab_size:
            raise ConfigError(f"sasrec: num_classes={num_classes} exceeds vocab_size={vocab_size}; scored ids need embeddings")
        if dim % heads:
            raise ConfigError(f"sasrec: dim={dim} must be divisible by heads={heads}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ConfigError(f"sasrec: dropout={dropout!r} must be a number in [0, 1)")
        shape = tuple(input_shape)
        if len(shape) != 1:
            raise ConfigError(f"sasrec: input_shape={shape} must be (L,), item sequences of length L")
        items = nn.Embedding(vocab_size, dim, padding_idx=0)
        nn.init.normal_(items.weight, std=dim ** -0.5)
        with torch.no_grad():
            items.weight[0].zero_()
        stages: dict[str, nn.Module] = {"embed": _Embed(items, shape[0], float(dropout))}
        stages.update({f"block{index + 1}": _Block(dim, heads, float(dropout)) for index in range(blocks)})
        stages["last"] = _Last(dim)
        super().__init__(stages, _TiedHead(items, num_classes), input_shape=shape)
        self.vocab_size, self.dim, self.blocks, self.heads, self.dropout = vocab_size, dim, blocks, heads, float(dropout)

    def _check_images(self, inputs: Tensor) -> None:
        """One line unless ``inputs`` is an integer ``(B, L)`` batch of ids in ``[0, vocab_size)``."""
        name = type(self).__name__
        if inputs.is_floating_point() or inputs.dtype == torch.bool:
            raise InputTypeError(f"{name}: inputs are {inputs.dtype}; pass int64 item ids (no normalisation)")
        if inputs.ndim != 2 or inputs.shape[1] != self.input_shape[0]:
            raise InputValueError(
                f"{name}: inputs have shape {tuple(inputs.shape)}, expected (B, {self.input_shape[0]}) as built; "
                "build the model for this history length"
            )
        if inputs.numel() and (int(inputs.min()) < 0 or int(inputs.max()) >= self.vocab_size):
            raise InputValueError(
                f"{name}: ids {int(inputs.min())}..{int(inputs.max())} fall outside [0, {self.vocab_size}); "
                "build the model with the dataset's vocab_size"
            )
