"""The digits loader's ``size`` option: 8x8 unchanged by default, bilinear upsampling otherwise."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from augbench.data import DATASETS, load_dataset
from augbench.errors import ConfigError
from augbench.functional import resize


def test_default_is_the_original_8x8_digits_exactly() -> None:
    from sklearn.datasets import load_digits as sklearn_digits

    expected = torch.from_numpy(np.rint(sklearn_digits().images * (255.0 / 16)).astype(np.uint8)).unsqueeze(1)
    for dataset in (load_dataset("digits"), load_dataset("digits", size=None), load_dataset("digits", size=8)):
        assert dataset.inputs.shape == (1797, 1, 8, 8) and dataset.inputs.dtype == torch.uint8
        assert torch.equal(dataset.inputs, expected)


def test_size_28_is_a_bilinear_resize_of_the_uint8_images_with_the_same_labels() -> None:
    small, large = load_dataset("digits"), DATASETS.build({"type": "digits", "size": 28})
    assert large.inputs.shape == (1797, 1, 28, 28) and large.inputs.dtype == torch.uint8
    assert large.input_shape == (1, 28, 28) and large.num_classes == 10
    assert torch.equal(large.inputs, resize(small.inputs, 28, interpolation="bilinear"))
    assert torch.equal(large.labels, small.labels)
    # interpolation keeps the content: mean grey level within 2 % of the 8x8 images'
    assert float(large.inputs.float().mean()) == pytest.approx(float(small.inputs.float().mean()), rel=0.02)


@pytest.mark.parametrize("size", [0, -3, 2.5, True, "28"])
def test_bad_size_raises_one_line(size: object) -> None:
    with pytest.raises(ConfigError, match="digits: size=") as error:
        load_dataset("digits", size=size)
    assert "\n" not in str(error.value)


def test_size_is_part_of_the_resolved_spec() -> None:
    assert DATASETS.resolve({"type": "digits", "size": 28}, context=("root", "split")) == {"type": "digits", "size": 28}
