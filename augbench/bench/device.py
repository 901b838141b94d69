"""The training device: checked once, with one line naming the fix."""

from __future__ import annotations

import torch

from augbench.errors import ConfigError

__all__ = ["check_device"]


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a ``torch.device`` if this machine can train on it, else one line naming the fix."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"--device {device!r}: not a torch device; use cpu, cuda, cuda:1 or mps") from None
    if parsed.type == "cuda":
        if torch.version.cuda is None:
            raise ConfigError(
                f"--device {device}: this torch build ({torch.__version__}) has no CUDA support; "
                "use --device cpu, or install a CUDA build of torch"
            )
        count = torch.cuda.device_count()
        if count == 0:
            raise ConfigError(f"--device {device}: no CUDA GPU is visible (check CUDA_VISIBLE_DEVICES and the driver)")
        if parsed.index is not None and parsed.index >= count:
            raise ConfigError(f"--device {device}: only {count} CUDA device(s) are visible (cuda:0 to cuda:{count - 1})")
    elif parsed.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"--device {device}: MPS is not available on this machine; use --device cpu")
    elif parsed.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"--device {device}: augbench trains on cpu, cuda or mps")
    return parsed
