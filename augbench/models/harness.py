"""The small CNN of the method cards' shared small-scale harness."""

from __future__ import annotations

from torch import Tensor, nn

from augbench.models.registry import MODELS

__all__ = ["HarnessCNN"]


@MODELS.register("harness_cnn")
class HarnessCNN(nn.Module):
    """conv(C->32, 3x3) - ReLU - conv(32->64, 3x3) - ReLU - maxpool 2 - linear.

    The card (``shared/methods/policies.md``) leaves padding open; both convolutions use
    padding 1, so an 8x8 digit gives 64 x 4 x 4 = 1,024 features.

    Args:
        in_channels: image channels.
        num_classes: number of outputs.
        image_size: ``(height, width)`` of the inputs, both even.

    Shape:
        ``(B, in_channels, H, W)`` float -> ``(B, num_classes)`` logits.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: tuple[int, int] = (8, 8)) -> None:
        super().__init__()
        height, width = image_size
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.classifier = nn.Linear(64 * (height // 2) * (width // 2), num_classes)

    def forward(self, images: Tensor) -> Tensor:
        return self.classifier(self.features(images))
