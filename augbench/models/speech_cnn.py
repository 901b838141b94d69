"""A small log-mel CNN for keyword / spoken-digit classification, from waveforms or spectrograms."""

from __future__ import annotations

from torch import Tensor, nn

from augbench.audio_features import LogMel
from augbench.errors import ConfigError
from augbench.models.registry import MODELS
from augbench.models.staged import StagedModel

__all__ = ["SpeechCNN"]

_CHANNELS = (16, 32, 64)


def _block(in_channels: int, out_channels: int, pool: bool) -> nn.Sequential:
    """conv3x3 - BN - ReLU, then 2x2 max pooling (halving mel bins and frames) when ``pool``."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU(),
    ]
    if pool:
        layers.append(nn.MaxPool2d(2, ceil_mode=True))
    return nn.Sequential(*layers)


def _whole(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"speech_cnn: {name}={value!r} must be a whole number >= 1")
    return value


def _frame_tokens(hidden: Tensor) -> Tensor:
    """``(B, C, F, T)`` or ``(B, D, T)`` -> ``(B, T, C * F)`` tokens, one per frame."""
    return hidden.flatten(1, hidden.ndim - 2).transpose(1, 2)


class _FrameAttention(nn.Module):
    """CAB-KWS's long-range part: frame tokens projected to ``dim``, then ``x + MHA(LN(x))``.

    Shape:
        ``(B, C, F, T)`` float -> ``(B, dim, T)``.
    """

    def __init__(self, features: int, dim: int, heads: int) -> None:
        super().__init__()
        self.project = nn.Linear(features, dim)
        self.norm = nn.LayerNorm(dim)
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)

    def forward(self, hidden: Tensor) -> Tensor:
        tokens = self.project(_frame_tokens(hidden))
        normed = self.norm(tokens)
        return (tokens + self.attention(normed, normed, normed, need_weights=False)[0]).transpose(1, 2)


class _FrameBottleneck(nn.Module):
    """A per-frame linear bottleneck: ``(B, C, F, T)`` or ``(B, D, T)`` -> ``(B, size, T)``."""

    def __init__(self, features: int, size: int) -> None:
        super().__init__()
        self.project = nn.Linear(features, size)

    def forward(self, hidden: Tensor) -> Tensor:
        return self.project(_frame_tokens(hidden)).transpose(1, 2)


@MODELS.register("speech_cnn")
class SpeechCNN(StagedModel):
    """Log-mel front-end + three conv blocks + global pooling: a small keyword-spotting CNN.

    In the spirit of the small CNNs of Sainath and Parada 2015 ("Convolutional neural networks
    for small-footprint keyword spotting") and the Speech Commands baselines, simplified to
    3x3 convolutions with batch norm and max pooling, no dropout, and average pooling over
    time only (any number of frames works): the pooled features keep their mel band, since
    where energy sits in frequency (formants) is what tells words apart.

    The input decides the front-end: waveforms ``(B, C, T)`` (``input_shape = (C, T)``, the
    ``audio`` modality) go through :class:`augbench.audio_features.LogMel` inside the model
    (stage ``frontend``: log-mel, then BatchNorm over the channels to rescale the log
    energies), so waveform augmentations run before the features; spectrograms
    ``(B, C, F, T)`` (``input_shape = (C, F, T)``, the ``spectrogram`` modality, e.g.
    ``fsdd_logmel``) enter ``conv1`` directly.

    Stages (:class:`~augbench.models.staged.StagedModel`): [``frontend`` ->
    ``(B, C, n_mels, frames)``], ``conv1``: conv(C->16w) - BN - ReLU - maxpool 2;
    ``conv2``: conv(->32w) ... - maxpool 2; ``conv3``: conv(->64w) - BN - ReLU;
    ``pool``: mean over frames -> ``(B, D)``, ``D = round(64 w) * ceil(n_mels / 4)`` (one
    feature per channel and pooled mel band); head: linear(D->num_classes).

    Optional CAB-KWS parts (both off by default, which gives the model above unchanged):
    ``attention_heads > 0`` adds stage ``attention`` after ``conv3``: each frame's ``D`` conv
    features (a token) projected to ``attention_dim``, then one pre-norm self-attention block
    over frames with a residual -> ``(B, attention_dim, frames')``; ``bottleneck > 0`` adds
    stage ``bottleneck``, a per-frame linear map (no activation) to ``bottleneck`` units -> ``(B,
    bottleneck, frames')``, and ``pool`` then averages it over frames -> ``(B, bottleneck)``
    (the head reads the pooled bottleneck). Without a bottleneck, ``pool`` averages the
    attention output over frames -> ``(B, attention_dim)``.

    Args:
        num_classes: outputs, >= 1.
        input_shape: ``(C, T)`` for waveforms or ``(C, F, T)`` for spectrograms.
        sample_rate, n_fft, hop_length, n_mels: the waveform front-end (defaults: FSDD's 8 kHz,
            32 ms windows, 16 ms hops, 40 mel bins); ignored for spectrogram inputs.
        width: channel multiplier (> 0).
        attention_heads: heads of the frame self-attention block (0: none); must divide
            ``attention_dim``.
        attention_dim: token width of the attention block (> 0).
        bottleneck: per-frame bottleneck width (0: none).

    Shape:
        ``(B, C, T)`` or ``(B, C, F, T)`` float -> ``(B, num_classes)`` logits; the time axis is
        free (any length), the others are fixed by ``input_shape``.

    >>> import torch
    >>> SpeechCNN(num_classes=10, input_shape=(1, 8000))(torch.zeros(2, 1, 8000)).shape
    torch.Size([2, 10])
    >>> SpeechCNN(num_classes=10, input_shape=(1, 40, 63))(torch.zeros(2, 1, 40, 50)).shape
    torch.Size([2, 10])
    """

    def __init__(
        self,
        num_classes: int = 10,
        input_shape: tuple[int, ...] = (1, 8000),
        sample_rate: int = 8000,
        n_fft: int = 256,
        hop_length: int = 128,
        n_mels: int = 40,
        width: float = 1.0,
        attention_heads: int = 0,
        attention_dim: int = 64,
        bottleneck: int = 0,
    ) -> None:
        _whole("num_classes", num_classes)
        shape = tuple(input_shape)
        if len(shape) not in (2, 3) or not all(isinstance(size, int) and size >= 1 for size in shape):
            raise ConfigError(
                f"speech_cnn: input_shape={input_shape!r} must be (C, T) waveforms or (C, F, T) spectrograms"
            )
        if isinstance(width, bool) or not isinstance(width, (int, float)) or not width > 0:
            raise ConfigError(f"speech_cnn: width={width!r} must be > 0 (1.0 = 16/32/64 channels)")
        channels = [max(1, round(count * width)) for count in _CHANNELS]
        stages: dict[str, nn.Module] = {}
        if len(shape) == 2:
            stages["frontend"] = nn.Sequential(
                LogMel(sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels), nn.BatchNorm2d(shape[0])
            )
        bins = n_mels if len(shape) == 2 else shape[1]
        pooled_bins = -(-(-(-bins // 2)) // 2)  # two ceil-mode max pools
        for name, value in (("attention_heads", attention_heads), ("bottleneck", bottleneck)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"speech_cnn: {name}={value!r} must be a whole number >= 0 (0: none)")
        _whole("attention_dim", attention_dim)
        if attention_heads and attention_dim % attention_heads:
            raise ConfigError(
                f"speech_cnn: attention_heads={attention_heads} must divide attention_dim={attention_dim}; "
                "use a divisor such as 1, 2 or 4"
            )
        features = channels[2] * pooled_bins
        stages.update(
            conv1=_block(shape[0], channels[0], pool=True),
            conv2=_block(channels[0], channels[1], pool=True),
            conv3=_block(channels[1], channels[2], pool=False),
        )
        if attention_heads:
            stages["attention"] = _FrameAttention(features, attention_dim, attention_heads)
            features = attention_dim
        if bottleneck:
            stages["bottleneck"] = _FrameBottleneck(features, bottleneck)
            features = bottleneck
        if attention_heads or bottleneck:
            stages["pool"] = nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Flatten())
        else:
            stages["pool"] = nn.Sequential(nn.AdaptiveAvgPool2d((pooled_bins, 1)), nn.Flatten())
        head = nn.Linear(features, num_classes)
        super().__init__(stages, head, input_shape=shape, free_axes=(len(shape) - 1,))
        self.width = float(width)
