"""A model made of named feature stages and a head, so hidden states can be mixed between stages.

Every model here is ``head(stage_K(... stage_1(images)))``. *Mixing point* ``k`` (0..K) is the
hidden state after the first ``k`` stages: ``k = 0`` is the input itself, ``k`` is the output
of ``stage_names[k - 1]``. A Manifold Mixup wrapper picks an eligible ``k``, runs
``hidden = model.forward_features(images, stop_at=k)``, mixes ``hidden`` within the batch and
finishes with ``model.forward_from(mixed, start_at=k)``; for every ``k``,
``forward_from(forward_features(x, k), k)`` equals ``forward(x)``.
"""

from __future__ import annotations

from torch import Tensor, nn

from augbench.errors import InputTypeError, InputValueError

__all__ = ["StagedModel"]


class StagedModel(nn.Module):
    """Base class: ``stages`` (an ordered ``nn.ModuleDict``) followed by ``head``.

    Args:
        stages: name -> module, applied in order; each maps the previous hidden state to the next.
        head: maps the last stage's output to ``(B, num_classes)`` logits.
        in_channels: channels of the input images.
        image_size: ``(height, width)`` the model is built for; inputs must match it.

    Shape:
        ``(B, in_channels, height, width)`` float -> ``(B, num_classes)`` logits.
    """

    def __init__(
        self, stages: dict[str, nn.Module], head: nn.Module, *, in_channels: int, image_size: tuple[int, int]
    ) -> None:
        super().__init__()
        self.stages = nn.ModuleDict(stages)
        self.head = head
        self.input_shape = (in_channels, *image_size)

    @property
    def stage_names(self) -> tuple[str, ...]:
        """Names of the stages in order; mixing point ``k`` follows ``stage_names[k - 1]``."""
        return tuple(self.stages.keys())

    @property
    def num_stages(self) -> int:
        """K, the number of stages (mixing points run 0..K)."""
        return len(self.stages)

    def forward_features(self, images: Tensor, stop_at: int | None = None) -> Tensor:
        """Run the first ``stop_at`` stages (all by default) and return the hidden state.

        Args:
            images: ``(B, C, H, W)`` float input.
            stop_at: mixing point in ``0..num_stages``; 0 returns ``images`` unchanged.

        Returns:
            The hidden state at that point (its shape depends on the model and the stage).
        """
        stop = self.num_stages if stop_at is None else self._point(stop_at, "stop_at")
        self._check_images(images)
        hidden = images
        for stage in list(self.stages.values())[:stop]:
            hidden = stage(hidden)
        return hidden

    def forward_from(self, hidden: Tensor, start_at: int) -> Tensor:
        """Run the stages after mixing point ``start_at`` and the head.

        Args:
            hidden: the hidden state at ``start_at`` (the images when ``start_at`` is 0).
            start_at: mixing point in ``0..num_stages``.

        Returns:
            ``(B, num_classes)`` logits.
        """
        start = self._point(start_at, "start_at")
        if start == 0:
            self._check_images(hidden)
        for stage in list(self.stages.values())[start:]:
            hidden = stage(hidden)
        return self.head(hidden)

    def forward(self, images: Tensor) -> Tensor:
        """``(B, C, H, W)`` float images -> ``(B, num_classes)`` logits."""
        return self.forward_from(images, 0)

    def _point(self, point: int, name: str) -> int:
        if not isinstance(point, int) or not 0 <= point <= self.num_stages:
            raise InputValueError(
                f"{type(self).__name__}: {name}={point} is outside 0..{self.num_stages} "
                f"(0 = the input, k = after stage k of {', '.join(self.stage_names)})"
            )
        return point

    def _check_images(self, images: Tensor) -> None:
        if not images.is_floating_point():
            raise InputTypeError(
                f"{type(self).__name__}: images are {images.dtype}; pass floats, e.g. images.float() / 255"
            )
        if images.ndim != 4 or tuple(images.shape[1:]) != self.input_shape:
            raise InputValueError(
                f"{type(self).__name__}: images have shape {tuple(images.shape)}, expected "
                f"(B, {', '.join(map(str, self.input_shape))}) as built; build the model for this input"
            )
