"""``augbench show``: a PNG grid of augmented samples, to see what a policy does to a dataset."""

from __future__ import annotations

from pathlib import Path

import torch
from augbench.extras import missing_extra

try:
    from PIL import Image
except ModuleNotFoundError as error:
    raise missing_extra(error, "augbench show") from None

from augbench.data import load_dataset
from augbench.errors import ConfigError
from augbench.methods import MethodContext, Supervised, build_method
from augbench.policies import parse

__all__ = ["augmentation_grid", "write_grid"]


def augmentation_grid(images: torch.Tensor, policy: str, views: int, seed: int = 0) -> torch.Tensor:
    """A ``(C, rows * H, (views + 1) * W)`` uint8 grid: each row an original, then ``views`` draws.

    ``policy`` is a policy string or a method preset that trains with one augmentation
    (``affine``); mixers and other training methods have no single-image view and are refused
    with a one-line error.
    """
    try:
        transform = parse(policy).build()
    except ConfigError:
        method = build_method(policy, MethodContext(10, tuple(images.shape[1:])))
        if not isinstance(method, Supervised) or method.augment is None:
            raise ConfigError(f"show: {policy!r} is not a policy or augmentation; give e.g. rand-m9-n2 or affine") from None
        transform = method.augment
    generator = torch.Generator().manual_seed(seed)
    columns = [images] + [transform(images, generator=generator) for _ in range(views)]
    height, width = images.shape[-2:]
    if any(tuple(c.shape[-2:]) != (height, width) for c in columns):
        columns = [columns[0]] + [torch.nn.functional.interpolate(c.float(), size=(height, width)).to(torch.uint8) for c in columns[1:]]
    rows = torch.cat(columns, dim=3)  # (N, C, H, (views + 1) W)
    return torch.cat(list(rows), dim=1)  # (C, N H, (views + 1) W)


def write_grid(policy: str, dataset: str, out: Path, *, samples: int = 8, views: int = 6, scale: int = 4,
               data_root: str | None = None, seed: int = 0) -> Path:
    """Write the grid of :func:`augmentation_grid` for the first ``samples`` images of ``dataset``."""
    options = {"root": data_root} if data_root is not None and dataset != "digits" else {}
    data = load_dataset(dataset, **options)
    grid = augmentation_grid(data.inputs[:samples], policy, views, seed)
    pixels = grid.permute(1, 2, 0).numpy()
    image = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
    image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)
    return out


