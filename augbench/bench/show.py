"""``augbench show``: a labelled PNG grid of what a pipeline, policy or mixer does to a dataset.

Rows are class-balanced samples (one class after another, round robin), labelled with their
class; the first column is the original, then ``views`` independent draws. For a mixer each
draw is the sample mixed with a partner of the batch, captioned with its weight ``lam`` (the
sample's share of the target) and the partner's class. Cells are separated by gutters and
enlarged with nearest-neighbour scaling, so pixels stay visible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from augbench.data.base import Dataset
from augbench.data.streams import load_split
from augbench.errors import ConfigError
from augbench.extras import missing_extra
from augbench.methods import MethodContext, build_method
from augbench.mix.base import MIXERS, Mixer, build_mixer
from augbench.policies.build import build_transform
from augbench.registry import Spec, spec_type

try:
    from PIL import Image, ImageDraw, ImageFont
except ModuleNotFoundError as error:
    raise missing_extra(error, "augbench show") from None

__all__ = ["Drawable", "resolve_drawable", "balanced_indices", "render_grid", "write_grid"]

_GUTTER = 6  # pixels between cells
_LABEL_WIDTH = 96  # the row label column
_TEXT = 14  # the height of one text line


@dataclass(frozen=True)
class Drawable:
    """What a grid shows: an augmentation applied to each sample, then (optionally) a mixer."""

    name: str
    transform: Any | None = None
    mixer: Mixer | None = None


def resolve_drawable(what: Spec, input_shape: tuple[int, ...], num_classes: int) -> Drawable:
    """The augmentation and/or mixer named by ``what``.

    Accepted: a policy string (``rand-m9-n2``), a transform spec (``{type: RandomAffine, ...}``),
    a mixer name or spec (``cutmix``, ``{type: mixup, alpha: 0.4}``), or a training-method preset
    whose training draws an augmentation or mixes (``affine``, ``mixup``).

    Raises:
        ConfigError: one line when ``what`` is none of these (a method that trains without a
            per-sample view, such as ``baseline`` or ``fixmatch``, has nothing to draw).
    """
    name = what if isinstance(what, str) else spec_type(what, "augmentation")
    if name in MIXERS:
        return Drawable(name, mixer=build_mixer(what, num_classes))
    try:
        return Drawable(name, transform=build_transform(what))
    except ConfigError as transform_error:
        try:
            method = build_method(what, MethodContext(num_classes, tuple(input_shape)))
        except ConfigError:
            raise transform_error from None
    transform, mixer = getattr(method, "augment", None), getattr(method, "mixer", None)
    if transform is None and mixer is None:
        raise ConfigError(
            f"show: {name!r} trains without a per-sample augmentation or mixer, so there is nothing to draw; "
            "give a policy (rand-m9-n2), a transform spec, a mixer (cutmix) or a preset such as affine or mixup"
        )
    return Drawable(name, transform=transform, mixer=mixer)


def balanced_indices(labels: Tensor, count: int) -> Tensor:
    """``count`` sample indices taking the classes in turn (class 0's first sample, class 1's
    first, ..., then each class's second), so every class appears before any repeats.

    >>> balanced_indices(torch.tensor([0, 0, 1, 1, 2, 0]), 4).tolist()
    [0, 2, 4, 1]
    """
    by_class = [torch.nonzero(labels == cls).flatten() for cls in labels.unique(sorted=True)]
    picked: list[int] = []
    for rank in range(max(len(members) for members in by_class)):
        picked += [int(members[rank]) for members in by_class if rank < len(members)]
    return torch.tensor(picked[:count], dtype=torch.int64)


def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=12)
    except (TypeError, OSError):  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def _cells(
    drawable: Drawable, images: Tensor, labels: Tensor, names: Sequence[str], views: int, seed: int
) -> list[list[tuple[Tensor, str]]]:
    """Per row: ``(sample, caption)`` for the original and every draw (images: ``(C, H, W)`` uint8,
    resized back to the input size when the augmentation resizes)."""
    generator = torch.Generator().manual_seed(seed)
    rows: list[list[tuple[Tensor, str]]] = [[(image, "")] for image in images]
    for _ in range(views):
        drawn = images if drawable.transform is None else drawable.transform(images, generator=generator)
        if images.ndim == 4 and images.dtype == torch.uint8 and tuple(drawn.shape[-2:]) != tuple(images.shape[-2:]):
            drawn = torch.nn.functional.interpolate(drawn.float(), size=tuple(images.shape[-2:])).round().to(images.dtype)
        captions = [""] * len(images)
        if drawable.mixer is not None:
            mixed = drawable.mixer(drawn, labels, generator=generator)
            drawn = mixed.inputs
            captions = [f"lam {float(lam):.2f} + {names[int(labels[partner])][:8]}"
                        for lam, partner in zip(mixed.lam, mixed.index)]
        for row, (image, caption) in enumerate(zip(drawn, captions)):
            rows[row].append((image, caption))
    return rows


def render_grid(
    what: Spec,
    images: Tensor,
    labels: Tensor,
    class_names: Sequence[str] = (),
    *,
    views: int = 6,
    seed: int = 0,
    scale: int = 4,
) -> Image.Image:
    """A labelled grid of ``what`` applied to ``images``.

    Args:
        what: a policy string, transform spec, mixer or preset (see :func:`resolve_drawable`).
        images: ``(N, C, H, W)`` uint8 samples (one row each), ``C`` 1 or 3.
        labels: ``(N,)`` int64 classes: row labels and mixing partners.
        class_names: names of the classes (default: their indices).
        views: independent draws per row.
        seed: seed of the draws (the same seed, the same grid).
        scale: nearest-neighbour enlargement of every cell.

    Returns:
        An RGB ``PIL.Image``: a title, column headers, then one labelled row per sample; mixed
        cells are captioned ``lam <weight> + <partner class>``.
    """
    if images.ndim != 4 or images.dtype != torch.uint8 or images.shape[1] not in (1, 3) or not len(images):
        raise ConfigError(f"show: images must be a non-empty (N, 1 or 3, H, W) uint8 batch, got "
                          f"{tuple(images.shape)} {images.dtype}")
    names = [str(name) for name in class_names] or [str(i) for i in range(int(labels.max()) + 1)]
    drawable = resolve_drawable(what, tuple(images.shape[1:]), len(names))
    rows = _cells(drawable, images, labels, names, views, seed)
    height, width = images.shape[-2] * scale, images.shape[-1] * scale
    caption = _TEXT if drawable.mixer is not None else 0
    cell_w, cell_h = max(width, 70 if caption else 0), height + caption
    top = 2 * _TEXT + _GUTTER
    canvas = Image.new("RGB", (_LABEL_WIDTH + (views + 1) * (cell_w + _GUTTER),
                               top + len(rows) * (cell_h + _GUTTER)), "white")
    draw, font = ImageDraw.Draw(canvas), _font()
    kind = "mixer" if drawable.mixer is not None else "augmentation"
    draw.text((_GUTTER, 2), f"{drawable.name} ({kind}), seed {seed}", fill="black", font=font)
    for column in range(views + 1):
        draw.text((_LABEL_WIDTH + column * (cell_w + _GUTTER), _TEXT + 2), "original" if column == 0 else f"draw {column}",
                  fill="dimgray", font=font)
    for row, (cells, label) in enumerate(zip(rows, labels.tolist())):
        y = top + row * (cell_h + _GUTTER)
        draw.text((_GUTTER, y + height // 2 - _TEXT // 2), names[label][:14], fill="black", font=font)
        for column, (image, text) in enumerate(cells):
            pixels = image.permute(1, 2, 0).numpy()
            tile = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).convert("RGB")
            x = _LABEL_WIDTH + column * (cell_w + _GUTTER)
            canvas.paste(tile.resize((width, height), Image.NEAREST), (x, y))
            if text:
                draw.text((x, y + height + 1), text, fill="dimgray", font=font)
    return canvas


def write_grid(what: Spec, dataset: Spec, out: Path, *, samples: int = 8, views: int = 6, scale: int = 4,
               data_root: str | None = None, seed: int = 0) -> Path:
    """Write :func:`render_grid` of ``samples`` class-balanced training images of ``dataset`` to ``out`` (PNG).

    Datasets of other modalities are drawn by :func:`augbench.bench.show_modalities.draw_modality`
    (series as line plots, audio as spectrograms, point clouds as 3-D scatter, skeletons as
    stick figures, text and item sequences as tables of the original and augmented samples)."""
    data = load_split(dataset, "train", data_root)
    chosen = balanced_indices(data.labels, samples)
    if data.modality != "image":
        return _write_modality(what, data, chosen, out, views=views, seed=seed)
    grid = render_grid(what, data.inputs[chosen], data.labels[chosen], data.class_names, views=views, seed=seed,
                       scale=scale)
    out.parent.mkdir(parents=True, exist_ok=True)
    grid.save(out)
    return out


def _write_modality(what: Spec, data: Dataset, chosen: Tensor, out: Path, *, views: int, seed: int) -> Path:
    """:func:`augbench.bench.show_modalities.draw_modality` of ``what`` on the samples ``chosen``."""
    from augbench.bench.show_modalities import draw_modality

    inputs, labels = data.inputs[chosen], data.labels[chosen]
    names = [str(name) for name in data.class_names]
    drawable = resolve_drawable(what, tuple(inputs.shape[1:]), len(names))
    rows = _cells(drawable, inputs, labels, names, views, seed)
    kind = "mixer" if drawable.mixer is not None else "augmentation"
    title = f"{drawable.name} ({kind}) on {data.name}, seed {seed}"
    return draw_modality(data.modality, rows, [names[int(label)] for label in labels], title,
                         out.with_suffix(".png"), tokens=data.tokens, bones=data.bones)

