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

from augbench.errors import ConfigError, InputTypeError, InputValueError

__all__ = ["StagedModel"]


class StagedModel(nn.Module):
    """Base class: ``stages`` (an ordered ``nn.ModuleDict``) followed by ``head``.

    Modality-neutral: the model is built for one sample shape, ``input_shape``, e.g.
    ``(C, H, W)`` for images or ``(C, L)`` for time series, and checks every input against it.

    Args:
        stages: name -> module, applied in order; each maps the previous hidden state to the next.
        head: maps the last stage's output to ``(B, num_classes)`` logits.
        input_shape: the shape of one sample, e.g. ``(C, L)``; give either it or both
            ``in_channels`` and ``image_size``.
        in_channels: channels of the input images (with ``image_size``, for image models).
        image_size: ``(height, width)`` the model is built for; inputs must match it.
        free_axes: sample axes (0 = channels) whose size may differ from ``input_shape``, e.g.
            ``(1,)`` for the length of a globally pooled 1-D CNN; ``input_shape`` still gives the
            nominal size (used to build probe inputs).

    Shape:
        ``(B, *input_shape)`` float -> ``(B, num_classes)`` logits.
    """

    def __init__(
        self,
        stages: dict[str, nn.Module],
        head: nn.Module,
        *,
        input_shape: tuple[int, ...] | None = None,
        in_channels: int | None = None,
        image_size: tuple[int, int] | None = None,
        free_axes: tuple[int, ...] = (),
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if input_shape is None:
            if in_channels is None or image_size is None:
                raise ConfigError(f"{name}: pass input_shape=(C, ...), or in_channels and image_size for images")
            input_shape = (in_channels, *image_size)
        elif in_channels is not None or image_size is not None:
            raise ConfigError(f"{name}: pass input_shape or in_channels + image_size, not both")
        input_shape = tuple(int(size) for size in input_shape)
        if not input_shape or min(input_shape) < 1:
            raise ConfigError(f"{name}: input_shape={input_shape} needs at least one axis, each of size >= 1")
        bad = [axis for axis in free_axes if not 0 <= axis < len(input_shape)]
        if bad:
            raise ConfigError(f"{name}: free_axes={tuple(free_axes)} names axes outside 0..{len(input_shape) - 1}")
        self.stages = nn.ModuleDict(stages)
        self.head = head
        self.input_shape = input_shape
        self.free_axes = tuple(sorted(set(free_axes)))

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
            images: ``(B, *input_shape)`` float input (images, series, ...).
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
        """``(B, *input_shape)`` float inputs -> ``(B, num_classes)`` logits."""
        return self.forward_from(images, 0)

    def _point(self, point: int, name: str) -> int:
        if not isinstance(point, int) or not 0 <= point <= self.num_stages:
            raise InputValueError(
                f"{type(self).__name__}: {name}={point} is outside 0..{self.num_stages} "
                f"(0 = the input, k = after stage k of {', '.join(self.stage_names)})"
            )
        return point

    def _check_images(self, inputs: Tensor) -> None:
        """One line unless ``inputs`` is a float ``(B, *input_shape)`` batch (free axes any size)."""
        if not inputs.is_floating_point():
            raise InputTypeError(
                f"{type(self).__name__}: inputs are {inputs.dtype}; pass floats, e.g. inputs.float() "
                "(uint8 images: inputs.float() / 255)"
            )
        fixed = [axis for axis in range(len(self.input_shape)) if axis not in self.free_axes]
        if inputs.ndim != 1 + len(self.input_shape) or any(
            inputs.shape[1 + axis] != self.input_shape[axis] for axis in fixed
        ):
            expected = ", ".join(
                "any" if axis in self.free_axes else str(size) for axis, size in enumerate(self.input_shape)
            )
            raise InputValueError(
                f"{type(self).__name__}: inputs have shape {tuple(inputs.shape)}, expected (B, {expected}) as built; "
                "build the model for this input"
            )
