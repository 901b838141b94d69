"""Pre-activation ResNet-18 for 32x32 colour images (He et al. 2016, "Identity Mappings")."""

from __future__ import annotations

from torch import Tensor, nn

from augbench.models.registry import MODELS
from augbench.models.staged import StagedModel

__all__ = ["PreActBlock", "PreActResNet18"]

_WIDTHS = (64, 128, 256, 512)
_BLOCKS_PER_STAGE = 2


class PreActBlock(nn.Module):
    """BN - ReLU - conv 3x3 (stride) - BN - ReLU - conv 3x3, plus the shortcut.

    The shortcut is the identity when shape is kept; otherwise a 1x1 convolution with the same
    stride, applied to the pre-activated input (BN - ReLU), as in the paper's projection blocks.

    Shape:
        ``(B, in_width, H, W)`` -> ``(B, out_width, ceil(H / stride), ceil(W / stride))``.
    """

    def __init__(self, in_width: int, out_width: int, stride: int) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(in_width)
        self.conv1 = nn.Conv2d(in_width, out_width, 3, stride=stride, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(out_width)
        self.conv2 = nn.Conv2d(out_width, out_width, 3, padding=1, bias=False)
        self.relu = nn.ReLU(inplace=True)
        self.projection = (
            nn.Conv2d(in_width, out_width, 1, stride=stride, bias=False)
            if stride != 1 or in_width != out_width
            else None
        )

    def forward(self, features: Tensor) -> Tensor:
        activated = self.relu(self.norm1(features))
        shortcut = features if self.projection is None else self.projection(activated)
        residual = self.conv2(self.relu(self.norm2(self.conv1(activated))))
        return residual + shortcut


@MODELS.register("preact_resnet18")
class PreActResNet18(StagedModel):
    """Pre-activation ResNet-18 with the CIFAR stem (3x3 convolution, no max-pool).

    Stages (see :class:`~augbench.models.staged.StagedModel`), for a 32x32 input:
    ``stem``: conv(C->64, 3x3) -> ``(B, 64, 32, 32)``;
    ``layer1`` -> ``(B, 64, 32, 32)``; ``layer2`` -> ``(B, 128, 16, 16)``;
    ``layer3`` -> ``(B, 256, 8, 8)``; ``layer4`` -> ``(B, 512, 4, 4)``; each two
    :class:`PreActBlock` s, the first with stride 2 from ``layer2`` on.
    Head: BN - ReLU - global average pool - linear(512->num_classes).
    The Manifold Mixup paper mixes at points 0 (input), 2 (after ``layer1``) and 3 (after ``layer2``).

    Args:
        in_channels: image channels.
        num_classes: number of outputs.
        image_size: ``(height, width)``; any size works, inputs must match it.

    Shape:
        ``(B, in_channels, H, W)`` float -> ``(B, num_classes)`` logits.
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 10, image_size: tuple[int, int] = (32, 32)) -> None:
        stages: dict[str, nn.Module] = {"stem": nn.Conv2d(in_channels, _WIDTHS[0], 3, padding=1, bias=False)}
        in_width = _WIDTHS[0]
        for index, width in enumerate(_WIDTHS):
            first_stride = 1 if index == 0 else 2
            blocks = [PreActBlock(in_width, width, first_stride)]
            blocks += [PreActBlock(width, width, 1) for _ in range(_BLOCKS_PER_STAGE - 1)]
            stages[f"layer{index + 1}"] = nn.Sequential(*blocks)
            in_width = width
        head = nn.Sequential(
            nn.BatchNorm2d(in_width),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(in_width, num_classes),
        )
        super().__init__(stages, head, in_channels=in_channels, image_size=image_size)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
