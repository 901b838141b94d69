"""scikit-learn's bundled handwritten digits: the embedded default dataset (no download)."""

from __future__ import annotations

import numpy as np
import torch

from augbench.data.base import DATASETS, ImageDataset

__all__ = ["load_digits"]

_DIGITS_MAX = 16  # sklearn's digits hold grey levels 0..16


@DATASETS.register("digits")
def load_digits() -> ImageDataset:
    """1,797 greyscale 8x8 digits (10 classes) from ``sklearn.datasets.load_digits``.

    Grey levels 0-16 are rescaled to uint8 0-255. Shape: images ``(1797, 1, 8, 8)`` uint8,
    labels ``(1797,)`` int64.
    """
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    pixels = np.rint(bunch.images * (255.0 / _DIGITS_MAX)).astype(np.uint8)
    images = torch.from_numpy(pixels).unsqueeze(1).contiguous()
    labels = torch.from_numpy(bunch.target.astype(np.int64))
    return ImageDataset("digits", images, labels, tuple(str(i) for i in range(10)))
