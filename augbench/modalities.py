"""The modality registry: what a batch of each kind of data looks like and how it is normalised.

A :class:`Modality` owns three things the benchmark used to assume for images: the layout check
of a batch, collation (picking samples out of an in-memory pool) and the normaliser fitted on
the training split. The phase loop, data and evaluation code dispatch on ``dataset.modality`` and
never look at tensor axes themselves.

=========== ==================== ========================= =================================
name        layout               stored dtype              normalisation (fitted on train)
=========== ==================== ========================= =================================
image       ``(B, C, H, W)``     uint8 0-255 or float 0-1  ``/255`` (uint8), per-channel z-score
timeseries  ``(B, C, L)``        float                     per-channel z-score over time
audio       ``(B, C, T)``        float waveform            per-channel z-score over time
spectrogram ``(B, C, F, T)``     float (log-)mel power     per-channel z-score
text        ``(B, L)``           int64 token ids           none (ids index an embedding)
points      ``(B, N, 3[+F])``    float                     none (centring is an augmentation)
sequence    ``(B, L)``           int64 item ids            none
skeleton    ``(B, T, J, 3)``     float joint coordinates   none
=========== ==================== ========================= =================================
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from augbench.errors import InputTypeError, InputValueError
from augbench.registry import Registry

__all__ = ["Modality", "MODALITIES", "Normalizer", "get_modality"]


class Normalizer:
    """Maps a stored batch to the float model input: ``(to_float(x) - mean) / std`` per channel.

    Args:
        mean, std: per-channel statistics shaped to broadcast against a batch (e.g.
            ``(1, C, 1, 1)`` for images), or ``None`` for no centring/scaling.
        scale: stored integer inputs are divided by it first (255 for uint8 images); integer
            inputs of token modalities pass through unchanged when ``scale`` is ``None``.
    """

    def __init__(self, mean: Tensor | None = None, std: Tensor | None = None, scale: float | None = None) -> None:
        self.mean, self.std, self.scale = mean, std, scale

    def to(self, device: torch.device | str) -> Normalizer:
        """This normaliser with its statistics on ``device``."""
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        return Normalizer(move(self.mean), move(self.std), self.scale)

    def __call__(self, inputs: Tensor) -> Tensor:
        if self.mean is None:
            return inputs
        values = inputs.float()
        if not inputs.is_floating_point() and self.scale is not None:
            values = values / self.scale
        return (values - self.mean) / self.std


def _channel_statistics(values: Tensor, channel_dim: int, shape: tuple[int, ...]) -> tuple[Tensor, Tensor]:
    """Per-channel mean and std (float64 sums, returned float32) reshaped to ``shape``."""
    flat = values.double().transpose(0, channel_dim).reshape(values.shape[channel_dim], -1)
    return flat.mean(1).float().view(shape), flat.std(1).float().clamp(min=1e-6).view(shape)


@dataclass(frozen=True)
class Modality:
    """One kind of data.

    Attributes:
        name: registry name.
        layout: the batch layout, for messages and docs, e.g. ``"(B, C, H, W)"``.
        sample_ndim: dimensions of one sample (the batch adds one).
        floating: whether values are floats (``False``: integer ids); images accept both.
        channel_dim: the channel axis of a batch for per-channel statistics, ``None`` when the
            modality is not normalised.
        integer_scale: integer stored values are divided by this before normalising.
        default_model: the model a dataset of this modality gets when an experiment names none.
        last_dim: required size of the last axis (3 for skeleton coordinates), or a minimum for
            points (``(B, N, 3 + F)``).
    """

    name: str
    layout: str
    sample_ndim: int
    floating: bool | None
    channel_dim: int | None = None
    integer_scale: float | None = None
    default_model: str | None = None
    last_dim: int | None = None
    last_dim_at_least: bool = False

    def check_batch(self, inputs: object, who: str = "inputs", *, allow_empty: bool = False) -> Tensor:
        """Raise one line unless ``inputs`` is a batch in this modality's layout.

        A batch of zero samples is refused unless ``allow_empty`` (transforms and mixers
        return an empty batch empty)."""
        if not isinstance(inputs, Tensor):
            raise InputTypeError(f"{who}: expected a {self.name} tensor {self.layout}, got {type(inputs).__name__}")
        if inputs.ndim != self.sample_ndim + 1:
            raise InputValueError(
                f"{who}: {self.name} batches are {self.layout}, got shape {tuple(inputs.shape)}; "
                f"add or remove axes to get {self.sample_ndim + 1} dimensions"
            )
        if inputs.shape[0] == 0 and not allow_empty:
            raise InputValueError(f"{who}: empty {self.name} batch {tuple(inputs.shape)}; pass at least one sample")
        if 0 in inputs.shape[1:]:
            raise InputValueError(
                f"{who}: {self.name} samples are empty, shape {tuple(inputs.shape)} {self.layout}; "
                "pass at least one element along every axis (pad short samples)"
            )
        if self.floating is True and not inputs.is_floating_point():
            raise InputTypeError(f"{who}: {self.name} values must be floating point, got {inputs.dtype}; use .float()")
        if self.floating is False and (inputs.is_floating_point() or inputs.dtype == torch.bool):
            raise InputTypeError(f"{who}: {self.name} batches hold integer ids, got {inputs.dtype}; use .long()")
        if self.floating is None and not (inputs.dtype == torch.uint8 or inputs.is_floating_point()):
            raise InputTypeError(f"{who}: {self.name} values must be uint8 (0-255) or float (0-1), got {inputs.dtype}")
        if self.last_dim is not None:
            size = inputs.shape[-1]
            if (size < self.last_dim) if self.last_dim_at_least else (size != self.last_dim):
                need = f">= {self.last_dim}" if self.last_dim_at_least else str(self.last_dim)
                raise InputValueError(f"{who}: {self.name} batches are {self.layout}; the last axis is {size}, need {need}")
        # One reduction first (a NaN anywhere makes the sum NaN); the exact scan only when it fires.
        if inputs.is_floating_point() and inputs.numel() and bool(torch.isnan(inputs.sum())) and bool(torch.isnan(inputs).any()):
            raise InputValueError(f"{who}: {self.name} batch holds NaN; clean or impute the data first")
        return inputs

    def collate(self, pool: Tensor, index: Tensor) -> Tensor:
        """The samples ``index`` of an in-memory ``pool`` as one batch (same dtype and layout)."""
        return pool.index_select(0, index)

    def fit_normalizer(self, train_inputs: Tensor) -> Normalizer:
        """The normaliser of a run, with statistics of its training inputs (identity if none)."""
        if self.channel_dim is None:
            return Normalizer()
        values = train_inputs
        if not values.is_floating_point() and self.integer_scale is not None:
            values = values.double() / self.integer_scale
        shape = [1] * (self.sample_ndim + 1)
        shape[self.channel_dim] = values.shape[self.channel_dim]
        mean, std = _channel_statistics(values, self.channel_dim, tuple(shape))
        return Normalizer(mean, std, self.integer_scale)

    def model_shape(self, input_shape: tuple[int, ...]) -> dict[str, object]:
        """Keyword arguments a model factory may take for samples of ``input_shape``."""
        options: dict[str, object] = {"input_shape": tuple(input_shape)}
        if self.channel_dim == 1:
            options["in_channels"] = input_shape[0]
        if self.name == "image":
            options["image_size"] = tuple(input_shape[1:])
        if self.name in ("timeseries", "audio"):
            options["length"] = input_shape[-1]
        return options


MODALITIES: Registry[Modality] = Registry("modality")


def _register(modality: Modality) -> None:
    MODALITIES.register(modality.name)(lambda: modality)


for _modality in (
    Modality("image", "(B, C, H, W)", 3, None, channel_dim=1, integer_scale=255.0, default_model="harness_cnn"),
    Modality("timeseries", "(B, C, L)", 2, True, channel_dim=1, default_model="timeseries_cnn"),
    Modality("audio", "(B, C, T)", 2, True, channel_dim=1),
    Modality("spectrogram", "(B, C, F, T)", 3, True, channel_dim=1),
    Modality("text", "(B, L) token ids", 1, False),
    Modality("points", "(B, N, 3 + F)", 2, True, last_dim=3, last_dim_at_least=True),
    Modality("sequence", "(B, L) item ids", 1, False),
    Modality("skeleton", "(B, T, J, 3)", 3, True, last_dim=3),
):
    _register(_modality)


def get_modality(name: str) -> Modality:
    """The registered modality ``name``; an unknown name lists the choices."""
    return MODALITIES.build(name)

