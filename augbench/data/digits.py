"""scikit-learn's bundled handwritten digits: the embedded default dataset (no download)."""

from __future__ import annotations

import numpy as np
import torch

from augbench.data.base import DATASETS, Dataset
from augbench.errors import ConfigError
from augbench.extras import missing_extra
from augbench.functional import resize

__all__ = ["load_digits"]

_DIGITS_MAX = 16  # sklearn's digits hold grey levels 0..16
_DIGITS_SIDE = 8


@DATASETS.register("digits")
def load_digits(size: int | None = None) -> Dataset:
    """1,797 greyscale 8x8 digits (10 classes) from ``sklearn.datasets.load_digits``.

    Grey levels 0-16 are rescaled to uint8 0-255. With ``size``, the uint8 images are resized
    bilinearly to ``size x size`` by :func:`augbench.functional.resize` (``size: 28`` makes a
    target domain for MNIST-shaped models: the digit fills the whole frame, unlike MNIST's
    20x20 box with a 4-pixel margin).

    Args:
        size: output side in pixels (an int >= 1), or ``None`` for the original 8x8 images.

    Shape: images ``(1797, 1, S, S)`` uint8 with ``S = size or 8``, labels ``(1797,)`` int64.

    Raises:
        ConfigError: ``size`` is not ``None`` or a positive int.
    """
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise ConfigError(f"digits: size={size!r} must be a positive int (e.g. 28 for MNIST's shape) or null for 8x8")
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ModuleNotFoundError as error:
        raise missing_extra(error, "the digits dataset") from None

    bunch = sklearn_digits()
    pixels = np.rint(bunch.images * (255.0 / _DIGITS_MAX)).astype(np.uint8)
    images = torch.from_numpy(pixels).unsqueeze(1).contiguous()
    if size is not None and size != _DIGITS_SIDE:
        images = resize(images, size, interpolation="bilinear").contiguous()
    labels = torch.from_numpy(bunch.target.astype(np.int64))
    return Dataset("digits", images, labels, tuple(str(i) for i in range(10)))
