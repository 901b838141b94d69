"""A small CNN for sentence classification after Kim 2014: embedding, three conv widths, max-pool."""

from __future__ import annotations

import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

from augbench.errors import ConfigError, InputTypeError, InputValueError
from augbench.models.registry import MODELS
from augbench.models.staged import StagedModel

__all__ = ["TextCNN"]


class _Embed(nn.Module):
    """``(B, L)`` int64 ids -> ``(B, E, L)`` float embeddings; padding (id 0) stays the zero vector."""

    def __init__(self, vocab_size: int, dim: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=0)

    def forward(self, ids: Tensor) -> Tensor:
        return self.embedding(ids).transpose(1, 2)


class _ConvMaxPool(nn.Module):
    """Parallel conv1d-ReLU of several widths, each max-pooled over the real positions.

    Padding is found as the all-zero columns of the embeddings (the padding vector is zero and
    gets no gradient); position ``t`` (the window ``t .. t + w - 1``, zero-padded at the end)
    counts when column ``t`` is a real token. Masked positions are set to 0 before the max, which
    after ReLU equals masking with ``-inf`` (every row has a real token), and gives 0, not
    ``-inf``, for a row of padding only.
    """

    def __init__(self, dim: int, filters: int, widths: tuple[int, ...]) -> None:
        super().__init__()
        self.widths = widths
        self.convs = nn.ModuleList(nn.Conv1d(dim, filters, width) for width in widths)

    def forward(self, embedded: Tensor) -> Tensor:
        real = embedded.abs().amax(1, keepdim=True) > 0  # (B, 1, L)
        pooled = [
            nnf.relu(conv(nnf.pad(embedded, (0, width - 1)))).masked_fill(~real, 0.0).amax(-1)
            for width, conv in zip(self.widths, self.convs)
        ]
        return torch.cat(pooled, 1)


@MODELS.register("text_cnn")
class TextCNN(StagedModel):
    """Kim's CNN for sentence classification, small and randomly initialised ("CNN-rand").

    Stages (see :class:`~augbench.models.staged.StagedModel`):
    ``embed``: ``(B, L)`` int64 ids -> ``(B, E, L)`` embeddings (id 0 = padding, kept at zero);
    ``conv``: conv1d(E->F, width w) - ReLU for each width, max over the real positions, concatenated
    -> ``(B, F * len(widths))`` features; head: dropout - linear(-> num_classes).
    Any length ``L`` works (global max-pool); the padding mask is ``ids != 0``.

    Simplified from Kim 2014: random embeddings (no word2vec), smaller embedding (64 vs 300) and
    filter counts (64 vs 100 per width) for a CPU, "same"-length convolutions zero-padded at the
    end instead of "valid" ones, and no max-norm constraint on the head (weight decay instead).

    Args:
        vocab_size: number of ids, padding included (from the dataset), >= 2.
        num_classes: number of outputs, >= 1.
        input_shape: ``(L,)``, the nominal length the model is built for.
        embed_dim: embedding size E.
        filters: output channels F of each convolution width.
        widths: convolution widths (Kim: 3, 4, 5).
        dropout: dropout before the linear head, in [0, 1).

    Shape:
        ``(B, L)`` int64 ids -> ``(B, num_classes)`` logits; ``forward_features`` -> ``(B, F * len(widths))``.

    Reference:
        Kim, "Convolutional Neural Networks for Sentence Classification", EMNLP 2014.

    >>> model = TextCNN(vocab_size=50, num_classes=2, input_shape=(12,))
    >>> model(torch.tensor([[5, 6, 7, 0], [8, 0, 0, 0]])).shape, model.forward_features(torch.ones(3, 20, dtype=torch.long)).shape
    (torch.Size([2, 2]), torch.Size([3, 192]))
    """

    def __init__(
        self,
        vocab_size: int,
        num_classes: int = 2,
        input_shape: tuple[int, ...] = (64,),
        embed_dim: int = 64,
        filters: int = 64,
        widths: tuple[int, ...] = (3, 4, 5),
        dropout: float = 0.5,
    ) -> None:
        for option, value, low in (("vocab_size", vocab_size, 2), ("num_classes", num_classes, 1),
                                   ("embed_dim", embed_dim, 1), ("filters", filters, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"text_cnn: {option}={value!r} must be a whole number >= {low}")
        widths = tuple(widths)
        if not widths or not all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in widths):
            raise ConfigError(f"text_cnn: widths={widths!r} must be a non-empty list of whole numbers >= 1, e.g. [3, 4, 5]")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ConfigError(f"text_cnn: dropout={dropout!r} must be a number in [0, 1)")
        if len(tuple(input_shape)) != 1:
            raise ConfigError(f"text_cnn: input_shape={tuple(input_shape)} must be (L,) for (B, L) token ids")
        stages = {"embed": _Embed(vocab_size, embed_dim), "conv": _ConvMaxPool(embed_dim, filters, widths)}
        head = nn.Sequential(nn.Dropout(dropout), nn.Linear(filters * len(widths), num_classes))
        super().__init__(stages, head, input_shape=tuple(input_shape), free_axes=(0,))
        self.vocab_size = vocab_size

    def _check_images(self, inputs: Tensor) -> None:
        """One line unless ``inputs`` is a ``(B, L)`` batch of integer ids below ``vocab_size``."""
        if inputs.is_floating_point() or inputs.dtype == torch.bool:
            raise InputTypeError(f"TextCNN: inputs are {inputs.dtype}; pass (B, L) int64 token ids, e.g. ids.long()")
        if inputs.ndim != 2:
            raise InputValueError(f"TextCNN: inputs have shape {tuple(inputs.shape)}, expected (B, L) token ids")
        if inputs.numel() and (int(inputs.min()) < 0 or int(inputs.max()) >= self.vocab_size):
            raise InputValueError(
                f"TextCNN: ids must lie in [0, {self.vocab_size}) (the vocabulary), got "
                f"[{int(inputs.min())}, {int(inputs.max())}]; build the model with the dataset's vocab_size"
            )
