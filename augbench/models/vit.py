"""A small Vision Transformer (Dosovitskiy et al. 2021) that exposes its class-token attention."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from augbench.errors import ConfigError, InputValueError
from augbench.models.registry import MODELS
from augbench.models.staged import StagedModel

__all__ = ["PatchEmbedding", "SelfAttention", "TransformerBlock", "VisionTransformer"]

_INIT_STD = 0.02


class PatchEmbedding(nn.Module):
    """Non-overlapping patches -> tokens, with a learned class token and position embedding.

    Args:
        in_channels: image channels.
        dim: token width.
        patch_size: side of the square patches, in pixels.
        grid: ``(rows, cols)`` of patches.

    Shape:
        ``(B, in_channels, rows * patch_size, cols * patch_size)`` float ->
        ``(B, 1 + rows * cols, dim)``; token 0 is the class token, then the patches row-major.
    """

    def __init__(self, in_channels: int, dim: int, patch_size: int, grid: tuple[int, int]) -> None:
        super().__init__()
        self.projection = nn.Conv2d(in_channels, dim, patch_size, stride=patch_size)
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.position = nn.Parameter(torch.zeros(1, 1 + grid[0] * grid[1], dim))
        nn.init.trunc_normal_(self.class_token, std=_INIT_STD)
        nn.init.trunc_normal_(self.position, std=_INIT_STD)

    def forward(self, images: Tensor) -> Tensor:
        patches = self.projection(images).flatten(2).transpose(1, 2)
        class_token = self.class_token.expand(patches.shape[0], -1, -1)
        return torch.cat([class_token, patches], dim=1) + self.position


class SelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention that also returns its weights.

    Shape:
        ``(B, T, dim)`` -> ``((B, T, dim), (B, heads, T, T))``; each weight row sums to 1.
    """

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.projection = nn.Linear(dim, dim)

    def forward(self, tokens: Tensor) -> tuple[Tensor, Tensor]:
        batch, length, dim = tokens.shape
        qkv = self.qkv(tokens).view(batch, length, 3, self.heads, dim // self.heads)
        query, key, value = qkv.permute(2, 0, 3, 1, 4)  # each (B, heads, T, dim / heads)
        weights = (query @ key.transpose(-2, -1) * self.scale).softmax(dim=-1)
        mixed = (weights @ value).transpose(1, 2).reshape(batch, length, dim)
        return self.projection(mixed), weights


class TransformerBlock(nn.Module):
    """Pre-norm block: ``x + attention(LN(x))``, then ``x + MLP(LN(x))`` with a GELU MLP.

    Shape:
        ``(B, T, dim)`` -> ``(B, T, dim)``; with ``return_attention`` also the class token's
        attention over the patch tokens, ``(B, heads, T - 1)``, renormalised to sum to 1.
    """

    def __init__(self, dim: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        hidden = round(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim)
        self.attention = SelfAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, tokens: Tensor, return_attention: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        attended, weights = self.attention(self.norm1(tokens))
        tokens = tokens + attended
        tokens = tokens + self.mlp(self.norm2(tokens))
        if not return_attention:
            return tokens
        to_patches = weights[:, :, 0, 1:]
        return tokens, to_patches / to_patches.sum(dim=-1, keepdim=True)


class _ClassTokenHead(nn.Module):
    """LayerNorm, then a linear classifier on the class token: ``(B, T, dim)`` -> ``(B, classes)``."""

    def __init__(self, dim: int, num_classes: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.classifier = nn.Linear(dim, num_classes)

    def forward(self, tokens: Tensor) -> Tensor:
        return self.classifier(self.norm(tokens[:, 0]))


@MODELS.register("vit_tiny")
class VisionTransformer(StagedModel):
    """A small ViT for small images; defaults: 4x4 patches, width 192, 6 blocks, 3 heads.

    (DeiT-Tiny has the same width and heads with ``depth=12``.) Stages (see
    :class:`~augbench.models.staged.StagedModel`): ``embed`` (patches + class token + position)
    -> ``(B, 1 + P, dim)``, then ``block1`` .. ``block<depth>``, each ``(B, 1 + P, dim)``, where
    ``P = (H / patch_size) * (W / patch_size)``. Head: LayerNorm, then linear on the class token.

    Attention for TransMix: ``model(images, return_attention=True)`` returns
    ``(logits, attention)``; ``attention`` is the last block's class-token-to-patch attention,
    ``(B, heads, P)`` float, patches row-major over the ``(H / patch_size, W / patch_size)``
    grid (``attention.view(B, heads, rows, cols)`` gives a map). The class token's weight on
    itself is dropped and each ``(b, head)`` row renormalised to sum to 1. It is not detached.

    Args:
        in_channels: image channels.
        num_classes: number of outputs.
        image_size: ``(height, width)``, both multiples of ``patch_size``.
        patch_size: side of the square patches, in pixels.
        dim: token width, a multiple of ``heads``.
        depth: number of transformer blocks, at least 1.
        heads: attention heads per block.
        mlp_ratio: MLP hidden width as a multiple of ``dim``.

    Shape:
        ``(B, in_channels, H, W)`` float -> ``(B, num_classes)`` logits.

    >>> model = VisionTransformer(in_channels=3, num_classes=10, image_size=(32, 32), dim=24, depth=2)
    >>> logits, attention = model(torch.zeros(2, 3, 32, 32), return_attention=True)
    >>> tuple(logits.shape), tuple(attention.shape)
    ((2, 10), (2, 3, 64))
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 10,
        image_size: tuple[int, int] = (32, 32),
        patch_size: int = 4,
        dim: int = 192,
        depth: int = 6,
        heads: int = 3,
        mlp_ratio: float = 4.0,
    ) -> None:
        height, width = image_size
        if patch_size < 1 or height % patch_size or width % patch_size:
            raise ConfigError(
                f"vit_tiny: image_size={tuple(image_size)} is not a multiple of patch_size={patch_size}; "
                "pick a patch size that divides both sides"
            )
        if heads < 1 or dim % heads:
            raise ConfigError(f"vit_tiny: dim={dim} is not a multiple of heads={heads}")
        if depth < 1:
            raise ConfigError(f"vit_tiny: depth={depth} must be at least 1")
        if mlp_ratio <= 0:
            raise ConfigError(f"vit_tiny: mlp_ratio={mlp_ratio} must be positive")
        grid = (height // patch_size, width // patch_size)
        stages: dict[str, nn.Module] = {"embed": PatchEmbedding(in_channels, dim, patch_size, grid)}
        for index in range(depth):
            stages[f"block{index + 1}"] = TransformerBlock(dim, heads, mlp_ratio)
        super().__init__(stages, _ClassTokenHead(dim, num_classes), in_channels=in_channels, image_size=(height, width))
        self.patch_grid = grid
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=_INIT_STD)
                nn.init.zeros_(module.bias)

    def forward_from(
        self, hidden: Tensor, start_at: int, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Run the stages after mixing point ``start_at`` and the head.

        Args:
            hidden: the hidden state at ``start_at`` (the images when ``start_at`` is 0).
            start_at: mixing point in ``0..num_stages``; below ``num_stages`` when
                ``return_attention`` (the last block must run).
            return_attention: also return the last block's class-token attention.

        Returns:
            ``(B, num_classes)`` logits, or ``(logits, attention)`` with attention
            ``(B, heads, P)`` (see the class docstring).
        """
        if not return_attention:
            return super().forward_from(hidden, start_at)
        if not 0 <= start_at < self.num_stages:
            raise InputValueError(
                f"VisionTransformer: return_attention needs the last block to run; start_at={start_at} "
                f"must be in 0..{self.num_stages - 1}"
            )
        if start_at == 0:
            self._check_images(hidden)
        stages = list(self.stages.values())
        for stage in stages[start_at:-1]:
            hidden = stage(hidden)
        tokens, attention = stages[-1](hidden, return_attention=True)
        return self.head(tokens), attention

    def forward(self, images: Tensor, return_attention: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """``(B, C, H, W)`` float images -> logits, or ``(logits, attention)`` (see the class docstring)."""
        return self.forward_from(images, 0, return_attention=return_attention)
