"""``augbench show`` for the non-image modalities: augmented samples drawn with matplotlib.

One figure per call, rows = class-balanced samples, the first column the original and then
``views`` independent draws of the augmentation (or of the augmentation and then a mixer, the
cell captioned with the mixing weight ``lam`` and the partner's class), as for image grids:

============ =====================================================================
modality     cell
============ =====================================================================
timeseries   one line per channel
audio        log-magnitude spectrogram of the waveform (STFT, 256-sample window)
spectrogram  the (log-)mel spectrogram itself
points       3-D scatter (the first three coordinates)
skeleton     stick figures of 4 frames (first, two middle, last) in the x-y plane,
             bones from the dataset's joint layout when known
text         a table: each cell the decoded sentence (ids when no vocabulary)
sequence     a table: each cell the item ids (the last 12; titles when known)
============ =====================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import Tensor

from augbench.errors import ConfigError
from augbench.extras import missing_extra

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ModuleNotFoundError as error:
    raise missing_extra(error, "augbench show") from None

__all__ = ["Cell", "draw_modality", "TABLE_MODALITIES"]

Cell = tuple[Tensor, str]
"""One sample (no batch axis) and its caption."""

TABLE_MODALITIES = ("text", "sequence")
"""Modalities drawn as a table of decoded tokens rather than as plots."""

_SKELETON_FRAMES = 4
_SEQUENCE_TAIL = 12


def _decode(tokens: Sequence[str] | None, ids: Tensor, *, tail: int | None = None) -> str:
    """Non-padding ids (id 0 is padding) as words, or as numbers without a vocabulary."""
    kept = [int(i) for i in ids.tolist() if int(i) != 0]
    if tail is not None and len(kept) > tail:
        kept = kept[-tail:]
        prefix = "... "
    else:
        prefix = ""
    words = [tokens[i] if tokens is not None and i < len(tokens) else str(i) for i in kept]
    return prefix + " ".join(words)


def _draw_series(axis: plt.Axes, sample: Tensor) -> None:
    for channel in sample.float():
        axis.plot(channel.numpy(), linewidth=0.8)


def _draw_audio(axis: plt.Axes, sample: Tensor) -> None:
    wave = sample.float().mean(0)
    window = min(256, wave.shape[-1])
    spectrum = torch.stft(wave, n_fft=window, hop_length=max(1, window // 4), window=torch.hann_window(window),
                          return_complex=True).abs()
    axis.imshow((spectrum + 1e-6).log().numpy(), origin="lower", aspect="auto", cmap="magma")


def _draw_spectrogram(axis: plt.Axes, sample: Tensor) -> None:
    axis.imshow(sample.float().mean(0).numpy(), origin="lower", aspect="auto", cmap="magma")


def _draw_points(axis: plt.Axes, sample: Tensor) -> None:
    xyz = sample[:, :3].float().numpy()
    axis.scatter(xyz[:, 0], xyz[:, 1], xyz[:, 2], s=1.5, c=xyz[:, 2], cmap="viridis")
    axis.set_box_aspect((1, 1, 1))


def _skeleton_drawer(bones: Sequence[tuple[int, int]] | None) -> Callable[[plt.Axes, Tensor], None]:
    def draw(axis: plt.Axes, sample: Tensor) -> None:
        frames = sample.shape[0]
        picked = sorted({0, frames // 3, (2 * frames) // 3, frames - 1})[:_SKELETON_FRAMES]
        colours = plt.cm.viridis(torch.linspace(0, 1, len(picked)).numpy())
        for colour, frame in zip(colours, picked):
            joints = sample[frame].float().numpy()
            axis.scatter(joints[:, 0], joints[:, 1], s=3, color=colour)
            for a, b in bones or ():
                axis.plot(joints[[a, b], 0], joints[[a, b], 1], color=colour, linewidth=0.8)
        axis.set_aspect("equal", adjustable="datalim")

    return draw


def _plot_drawer(modality: str, bones: Sequence[tuple[int, int]] | None) -> Callable[[plt.Axes, Tensor], None]:
    drawers: dict[str, Callable[[plt.Axes, Tensor], None]] = {
        "timeseries": _draw_series,
        "audio": _draw_audio,
        "spectrogram": _draw_spectrogram,
        "points": _draw_points,
        "skeleton": _skeleton_drawer(bones),
    }
    if modality not in drawers:
        raise ConfigError(f"show: no drawing for {modality} samples; modalities drawn: image, {', '.join([*drawers, *TABLE_MODALITIES])}")
    return drawers[modality]


def draw_modality(
    modality: str,
    rows: Sequence[Sequence[Cell]],
    row_labels: Sequence[str],
    title: str,
    out: Path,
    *,
    tokens: Sequence[str] | None = None,
    bones: Sequence[tuple[int, int]] | None = None,
) -> Path:
    """Write a PNG of ``rows`` (per row: the original, then every draw) of ``modality`` samples.

    Args:
        modality: a registered modality other than image.
        rows: per sample, ``(sample without batch axis, caption)`` for the original and each draw.
        row_labels: the class name of each row.
        title: the figure title.
        out: the PNG path (its folder is created).
        tokens: id -> string for text words or sequence items (tables), if known.
        bones: joint index pairs for skeleton stick figures, if known.
    """
    columns = len(rows[0])
    headers = ["original", *(f"draw {i}" for i in range(1, columns))]
    out.parent.mkdir(parents=True, exist_ok=True)
    if modality in TABLE_MODALITIES:
        tail = _SEQUENCE_TAIL if modality == "sequence" else None
        lines = [title, ""]
        for label, cells in zip(row_labels, rows):
            lines.append(f"[{label}]")
            for header, (sample, caption) in zip(headers, cells):
                text = _decode(tokens, sample, tail=tail)
                lines.append(f"  {header:>9}: {text}" + (f"   ({caption})" if caption else ""))
        lines = [_wrap(line) for line in lines]
        width = min(16.0, 0.075 * max(len(line) for line in lines) + 0.5)
        figure = plt.figure(figsize=(width, 0.16 * len(lines) + 0.3))
        figure.text(0.01, 0.99, "\n".join(lines), family="monospace", fontsize=8, va="top")
        figure.savefig(out, dpi=110)
        plt.close(figure)
        return out
    draw = _plot_drawer(modality, bones)
    three_d = modality == "points"
    figure = plt.figure(figsize=(2.1 * columns + 0.8, 1.7 * len(rows) + 0.6))
    for row, (label, cells) in enumerate(zip(row_labels, rows)):
        for column, (sample, caption) in enumerate(cells):
            axis = figure.add_subplot(len(rows), columns, row * columns + column + 1, projection="3d" if three_d else None)
            draw(axis, sample)
            axis.set_xticks([]), axis.set_yticks([])
            if three_d:
                axis.set_zticks([])
            if row == 0:
                axis.set_title(headers[column], fontsize=8)
            if column == 0:
                if three_d:
                    axis.text2D(-0.25, 0.5, label[:14], transform=axis.transAxes, fontsize=8, rotation=90, va="center")
                else:
                    axis.set_ylabel(label[:14], fontsize=8)
            if caption and three_d:
                axis.text2D(0.5, -0.02, caption, transform=axis.transAxes, ha="center", fontsize=7)
            elif caption:
                axis.set_xlabel(caption, fontsize=7)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(out, dpi=90)
    plt.close(figure)
    return out


def _wrap(line: str, width: int = 170) -> str:
    return line if len(line) <= width else line[: width - 3] + "..."
