"""A fixed 2-D scattering transform (Morlet wavelets, orders 0-2) and the ScatNet + adapter encoder.

The scattering transform of Mallat ("Group Invariant Scattering", 2012; Bruna and Mallat,
"Invariant Scattering Convolution Networks", TPAMI 2013) cascades wavelet convolutions and
complex moduli and averages the result with a low-pass filter of width ``2**J``:

- order 0: ``S0 x = x * phi_J``;
- order 1: ``S1 x(j1, t1) = |x * psi_{j1, t1}| * phi_J`` for scales ``j1 < J`` and ``L`` angles ``t1``;
- order 2: ``S2 x(j1, t1, j2, t2) = ||x * psi_{j1, t1}| * psi_{j2, t2}| * phi_J`` for ``j1 < j2 < J``;

each sampled every ``2**J`` pixels, so a ``C``-channel image gives
``C * (1 + L J + L**2 J (J - 1) / 2)`` channels at ``1 / 2**J`` of the resolution. Nothing in it is
trained; it is locally invariant to translations up to ``2**J`` pixels and stable to small
deformations. :class:`ScatNet` puts the trainable adapter of ScatSimCLR (Kinakh, Taran and
Voloshynovskiy, "ScatSimCLR: self-supervised contrastive learning with pretext task
regularization for small-scale datasets", ICCV workshops 2021, arXiv:2108.13939) behind it.

The filter bank follows the conventions of kymatio's ``Scattering2D`` (Andreux et al., JMLR
2020), computed here with ``torch.fft`` (kymatio is not a dependency): Morlet wavelets with
``sigma = 0.8 * 2**j``, centre frequency ``xi = 3 pi / 4 / 2**j``, slant ``4 / L`` and angles
``(L / 2 - 1 - t) pi / L`` (``t = 0 .. L-1``), periodised over the padded image and used through
the real part of their Fourier transform; a Gaussian low-pass with ``sigma = 0.8 * 2**(J-1)``.
The image is padded by reflection with ``2**J`` pixels per side, every convolution is a product
in the Fourier domain, and a ``k``-fold subsampling is the average of the ``k x k`` aliased
copies of the spectrum (kymatio's ``subsample_fourier``). Coefficients are ordered as kymatio
orders them: order 0, order 1 by ``(j1, t1)``, order 2 by ``(j1, t1, j2, t2)``, per input channel.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

from augbench.errors import ConfigError, InputTypeError, InputValueError
from augbench.models.registry import MODELS
from augbench.models.staged import StagedModel

__all__ = ["Scattering2D", "ScatNet", "scattering_channels", "morlet_filter_bank"]

_PERIODS = 2  # the filters are summed over (2 * _PERIODS + 1)**2 shifted copies (periodisation)


def scattering_channels(in_channels: int, J: int, L: int) -> int:
    """Channels of a second-order scattering of ``in_channels`` channels: ``C (1 + LJ + L**2 J (J-1) / 2)``.

    >>> scattering_channels(1, 2, 8), scattering_channels(3, 2, 16), scattering_channels(1, 1, 8)
    (81, 867, 9)
    """
    return in_channels * (1 + L * J + L * L * J * (J - 1) // 2)


def _gabor(height: int, width: int, sigma: float, theta: float, xi: float, slant: float) -> Tensor:
    """A periodised 2-D Gabor filter ``(height, width)`` complex128, origin at pixel (0, 0).

    ``g(u) = exp(-u^T R D R^T u / (2 sigma^2) + i xi (u_0 cos theta + u_1 sin theta)) / (2 pi sigma^2 / slant)``
    with ``R`` the rotation by ``theta`` and ``D = diag(1, slant^2)``, summed over the image shifted
    by ``-2..2`` periods along each axis.
    """
    cos, sin = math.cos(theta), math.sin(theta)
    rotation = torch.tensor([[cos, -sin], [sin, cos]], dtype=torch.float64)
    curvature = rotation @ torch.diag(torch.tensor([1.0, slant * slant], dtype=torch.float64)) @ rotation.T
    curvature = curvature / (2 * sigma * sigma)
    shifts = torch.arange(-_PERIODS, _PERIODS + 1, dtype=torch.float64)
    rows = (torch.arange(height, dtype=torch.float64)[None, :] + height * shifts[:, None])[:, None, :, None]
    cols = (torch.arange(width, dtype=torch.float64)[None, :] + width * shifts[:, None])[None, :, None, :]
    cross = curvature[0, 1] + curvature[1, 0]
    quadratic = curvature[0, 0] * rows**2 + cross * rows * cols + curvature[1, 1] * cols**2
    phase = xi * (rows * cos + cols * sin)
    values = torch.polar(torch.exp(-quadratic), phase)  # (shifts, shifts, height, width)
    return values.sum((0, 1)) / (2 * math.pi * sigma * sigma / slant)


def _morlet(height: int, width: int, sigma: float, theta: float, xi: float, slant: float) -> Tensor:
    """A zero-mean Morlet wavelet: the Gabor filter minus its Gaussian envelope times the mean ratio."""
    wave = _gabor(height, width, sigma, theta, xi, slant)
    envelope = _gabor(height, width, sigma, theta, 0.0, slant)
    return wave - wave.sum() / envelope.sum() * envelope


def _periodize(spectrum: Tensor, resolution: int) -> Tensor:
    """A filter's spectrum ``(..., M, N)`` folded ``2**resolution`` times per axis (summed aliases)."""
    factor = 2**resolution
    *lead, height, width = spectrum.shape
    folded = spectrum.reshape(*lead, factor, height // factor, factor, width // factor)
    return folded.sum((-4, -2))


def morlet_filter_bank(height: int, width: int, J: int, L: int) -> tuple[Tensor, Tensor]:
    """The Fourier-domain filters of a ``J``-scale, ``L``-angle scattering on ``height x width`` images.

    Returns:
        ``psi`` ``(J, L, height, width)`` float64, the real parts of the wavelets' spectra, and
        ``phi`` ``(height, width)`` float64, the low-pass filter's (``phi[0, 0] == 1``: unit gain).
    """
    psi = torch.stack([
        torch.stack([
            torch.fft.fft2(_morlet(height, width, 0.8 * 2**j, (int(L - L / 2 - 1) - angle) * math.pi / L,
                                   0.75 * math.pi / 2**j, 4.0 / L)).real
            for angle in range(L)
        ])
        for j in range(J)
    ])
    phi = torch.fft.fft2(_gabor(height, width, 0.8 * 2 ** (J - 1), 0.0, 0.0, 1.0)).real
    return psi, phi


def _blocks(spectrum: Tensor, factor: int) -> list[Tensor]:
    """The ``factor**2`` aliased blocks ``(..., M / factor, N / factor)`` of a spectrum ``(..., M, N)``."""
    height, width = spectrum.shape[-2] // factor, spectrum.shape[-1] // factor
    return [spectrum[..., a * height:(a + 1) * height, b * width:(b + 1) * width]
            for a in range(factor) for b in range(factor)]


def _filter_subsample(spectrum: Tensor, filters: Tensor, factor: int) -> Tensor:
    """``spectrum * filters`` then a spatial subsampling by ``factor``, done on the spectra.

    Subsampling a signal by ``factor`` averages the ``factor x factor`` aliased copies of its
    spectrum; the product is formed block by block, so the full-resolution product is never stored.
    """
    if factor == 1:
        return spectrum * filters
    total = None
    for part, weights in zip(_blocks(spectrum, factor), _blocks(filters, factor)):
        total = part * weights if total is None else total + part * weights
    return total / factor**2


class Scattering2D(nn.Module):
    """Fixed second-order 2-D scattering of every channel of a ``(B, C, H, W)`` batch.

    The filters are non-persistent buffers (recomputed from ``J``, ``L`` and the size, not
    stored in checkpoints); the module has no parameters. ``H`` and ``W`` are fixed at
    construction (the filters are built for them) and must be multiples of ``2**J`` and at
    least ``2**(J+1)`` (the ``2**J``-pixel reflection padding needs a wider image).

    Args:
        image_size: ``(H, W)`` of the inputs.
        J: number of scales, >= 1 (averaging window ``2**J``; 2 on 28x28 images, 1 on 8x8).
        L: number of angles, >= 1 (8 in kymatio, 16 in ScatSimCLR).

    Shape:
        ``(B, C, H, W)`` float -> ``(B, C * K, H / 2**J, W / 2**J)`` of the same dtype with
        ``K = 1 + L J + L**2 J (J - 1) / 2``; channel ``c * K + k`` is coefficient ``k`` of input
        channel ``c`` (order 0, then order 1 by ``(j1, angle)``, order 2 by ``(j1, angle1, j2, angle2)``).

    Raises:
        ConfigError: bad ``J``, ``L`` or ``image_size``.
        InputValueError, InputTypeError (at call): a batch of another size, rank or a non-float dtype.

    >>> scattering = Scattering2D((28, 28), J=2, L=8)
    >>> scattering(torch.zeros(3, 1, 28, 28)).shape
    torch.Size([3, 81, 7, 7])
    """

    def __init__(self, image_size: tuple[int, int], J: int = 2, L: int = 16) -> None:
        super().__init__()
        for name, value in (("J", J), ("L", L)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                example = 2 if name == "J" else 8
                raise ConfigError(f"scattering: {name}={value!r} must be a positive integer, e.g. {example}")
        height, width = (int(side) for side in image_size)
        window = 2**J
        if height % window or width % window or min(height, width) < 2 * window:
            raise ConfigError(
                f"scattering: image_size={(height, width)} does not fit J={J}; both sides must be multiples of "
                f"2**J={window} and >= {2 * window} (use J={max(1, J - 1)} or resize the images)"
            )
        self.J, self.L = J, L
        self.image_size = (height, width)
        self.padded_size = (height + 2 * window, width + 2 * window)
        psi, phi = morlet_filter_bank(*self.padded_size, J, L)
        for j in range(J):  # psi_j is used at the input resolution and after each j1 < j
            for resolution in range(max(j, 1)):
                self.register_buffer(f"psi_{j}_{resolution}", _periodize(psi[j], resolution).float(), persistent=False)
        for resolution in range(J):
            self.register_buffer(f"phi_{resolution}", _periodize(phi, resolution).float(), persistent=False)

    @property
    def channels_per_input(self) -> int:
        """``K``, the coefficients per input channel."""
        return scattering_channels(1, self.J, self.L)

    def _low_pass(self, spectrum: Tensor, resolution: int) -> Tensor:
        """Average a spectrum at ``resolution`` with phi, sample every ``2**J`` pixels, drop the padding."""
        low = _filter_subsample(spectrum, self.get_buffer(f"phi_{resolution}"), 2 ** (self.J - resolution))
        return torch.fft.ifft2(low).real[..., 1:-1, 1:-1]

    def forward(self, images: Tensor) -> Tensor:
        self._check(images)
        batch, channels = images.shape[:2]
        window = 2**self.J
        padded = nnf.pad(images.reshape(batch * channels, 1, *self.image_size), (window,) * 4, mode="reflect")
        spectrum = torch.fft.fft2(padded[:, 0])  # (BC, Mp, Np)
        orders = [self._low_pass(spectrum, 0)[:, None]]
        second = []
        for j1 in range(self.J):
            first = torch.fft.ifft2(_filter_subsample(spectrum[:, None], self.get_buffer(f"psi_{j1}_0"), 2**j1)).abs()
            first = torch.fft.fft2(first)  # (BC, L, Mp / 2**j1, Np / 2**j1)
            orders.append(self._low_pass(first, j1))
            children = []
            for j2 in range(j1 + 1, self.J):
                product = _filter_subsample(first[:, :, None], self.get_buffer(f"psi_{j2}_{j1}"), 2 ** (j2 - j1))
                grand = torch.fft.fft2(torch.fft.ifft2(product).abs())  # (BC, L, L, ...)
                children.append(self._low_pass(grand, j2))  # (BC, L1, L2, H', W')
            if children:
                second.append(torch.stack(children, 2).flatten(1, 3))  # (BC, L1 * (J-1-j1) * L2, H', W')
        coefficients = torch.cat([*orders, *second], 1)  # (BC, K, H', W')
        return coefficients.reshape(batch, channels * coefficients.shape[1], *coefficients.shape[-2:]).to(images.dtype)

    def _check(self, images: Tensor) -> None:
        if not isinstance(images, Tensor) or not images.is_floating_point():
            raise InputTypeError(
                f"scattering: inputs are {getattr(images, 'dtype', type(images).__name__)}; pass a float tensor, "
                "e.g. images.float() / 255"
            )
        if images.ndim != 4 or tuple(images.shape[-2:]) != self.image_size:
            raise InputValueError(
                f"scattering: inputs have shape {tuple(images.shape)}, but the filters are built for "
                f"(B, C, {self.image_size[0]}, {self.image_size[1]}); build Scattering2D for this image size"
            )

    def extra_repr(self) -> str:
        return f"image_size={self.image_size}, J={self.J}, L={self.L}"


class _ResidualBlock(nn.Module):
    """conv 3x3 - BN - ReLU - conv 3x3 - BN, plus the input, then ReLU (width and size kept)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, features: Tensor) -> Tensor:
        return self.relu(self.body(features) + features)


def _positive_int(option: str, value: object, example: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"scatnet: {option}={value!r} must be a positive integer, e.g. {example}")
    return value


@MODELS.register("scatnet")
class ScatNet(StagedModel):
    """ScatSimCLR's encoder: a fixed scattering front-end, batch norm and a small residual adapter.

    Stages (see :class:`~augbench.models.staged.StagedModel`), with ``K`` coefficients per channel:

    ``scattering``: :class:`Scattering2D` ``(B, C, H, W) -> (B, C K, H / 2**J, W / 2**J)``, no parameters;
    ``norm``: BatchNorm2d over the ``C K`` channels;
    ``adapter``: conv 3x3 (C K -> width) - BN - ReLU, then ``blocks`` residual blocks of ``width``;
    ``pool``: adaptive average pooling to ``pool x pool`` and flatten -> ``(B, width * pool**2)``
    (what ``forward_features`` returns); head: linear to ``num_classes``.

    With ``features="scattering"`` the encoder is the front-end alone: stages ``scattering`` and
    ``flatten`` give the raw coefficients ``(B, C K H' W')`` with no trainable part before the head,
    the control the ScatSimCLR card asks for (a probe on untrained ScatNet features).

    Simplified relative to the paper (ScatSimCLR30: 256-channel conv, 30 blocks of 128 channels,
    4x4 pooling -> 2048-d ``h``): a narrow adapter (``width`` 32, 2 blocks -> 512-d ``h`` at the
    defaults) sized for a CPU. ``J`` and ``L`` default to the card's 2 and 16 (289 channels per
    input channel); ``L: 8`` (kymatio's default, 81 channels) is about 5x cheaper on a CPU.

    Args:
        in_channels, num_classes, image_size: from the data.
        J: scattering scales (2 for 28x28 or 32x32 images, 1 for 8x8); the sides must be multiples of ``2**J``.
        L: scattering angles.
        width: adapter channels, >= 1.
        blocks: residual blocks in the adapter, >= 0.
        pool: side of the adaptive pooling, >= 1 (4 in the paper).
        features: ``"adapter"`` (ScatSimCLR's encoder) or ``"scattering"`` (raw coefficients).

    Shape:
        ``(B, in_channels, H, W)`` float -> ``(B, num_classes)`` logits.

    >>> model = ScatNet(in_channels=1, num_classes=10, image_size=(28, 28))
    >>> model.forward_features(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 512])
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        image_size: tuple[int, int] = (28, 28),
        J: int = 2,
        L: int = 16,
        width: int = 32,
        blocks: int = 2,
        pool: int = 4,
        features: str = "adapter",
    ) -> None:
        width = _positive_int("width", width, 32)
        pool = _positive_int("pool", pool, 4)
        if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 0:
            raise ConfigError(f"scatnet: blocks={blocks!r} must be an integer >= 0, e.g. 2")
        if features not in ("adapter", "scattering"):
            raise ConfigError(f"scatnet: features={features!r} must be 'adapter' or 'scattering'")
        scattering = Scattering2D(tuple(image_size), J=J, L=L)
        channels = in_channels * scattering.channels_per_input
        side_h, side_w = (side // 2**J for side in scattering.image_size)
        stages: dict[str, nn.Module] = {"scattering": scattering}
        if features == "scattering":
            stages["flatten"] = nn.Flatten()
            feature_width = channels * side_h * side_w
        else:
            adapter: list[nn.Module] = [
                nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            ]
            adapter.extend(_ResidualBlock(width) for _ in range(blocks))
            stages["norm"] = nn.BatchNorm2d(channels)
            stages["adapter"] = nn.Sequential(*adapter)
            stages["pool"] = nn.Sequential(nn.AdaptiveAvgPool2d(pool), nn.Flatten())
            feature_width = width * pool * pool
        super().__init__(stages, nn.Linear(feature_width, num_classes), in_channels=in_channels,
                         image_size=scattering.image_size)
        self.features = features
