"""White-box L-infinity attacks (FGSM, PGD) and the adversarial accuracy they leave.

Attacks work on images in [0, 1] pixel units, before normalisation: the perturbation is
added and clipped there, and the model sees ``model(normalize(x))``, so gradients flow
through the normalisation. The model runs in eval mode during the attack (its previous mode
is restored afterwards) and its parameters receive no gradients. Randomness (PGD's random
start) comes only from an explicit ``torch.Generator``.

- FGSM (Goodfellow et al., ICLR 2015): ``x' = clip(x + eps * sign(grad_x L(x, y)), 0, 1)``.
- PGD-k (Madry et al., ICLR 2018): ``x_0 = clip(x + U(-eps, eps), 0, 1)``, then ``k`` times
  ``x_{t+1} = clip(P_eps(x_t + alpha * sign(grad_x L(x_t, y))), 0, 1)`` with ``P_eps`` the
  projection onto the L-infinity ball of radius ``eps`` around ``x``; ``alpha`` defaults to
  ``2.5 * eps / k``.

``L`` is the cross-entropy of the logits. Report clean accuracy next to every adversarial
number; PGD accuracy above FGSM accuracy, or accuracy that does not fall as ``eps`` grows,
points to a weak attack or gradient masking.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

from augbench.errors import InputTypeError, InputValueError
from augbench.random import resolve_generator

__all__ = ["ATTACKS", "fgsm", "pgd", "adversarial_accuracy"]

Normalize = Callable[[Tensor], Tensor]
ATTACKS = ("fgsm", "pgd")
_PGD_STEP_FACTOR = 2.5


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Put ``model`` in eval mode, restoring each submodule's previous mode on exit."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.train(training)


def _check(images: Tensor, labels: Tensor, epsilon: float, who: str) -> None:
    if not isinstance(images, Tensor) or images.ndim != 4 or images.shape[0] == 0:
        raise InputValueError(f"{who}: images must be a non-empty (B, C, H, W) tensor")
    if not images.is_floating_point():
        raise InputTypeError(f"{who}: images must be floating in [0, 1], got {images.dtype}; use x.float() / 255")
    if not isinstance(labels, Tensor) or labels.shape != images.shape[:1]:
        raise InputValueError(f"{who}: labels must have shape ({images.shape[0]},), one class index per image")
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not 0.0 <= epsilon <= 1.0:
        raise InputValueError(f"{who}: epsilon={epsilon!r} must be a number in [0, 1] (pixel units, e.g. 8 / 255)")


def _input_gradient(model: nn.Module, normalize: Normalize, images: Tensor, labels: Tensor) -> Tensor:
    """``grad_x`` of the summed cross-entropy at ``x = images``; parameters get no gradient."""
    inputs = images.detach().requires_grad_(True)
    with torch.enable_grad():
        loss = nnf.cross_entropy(model(normalize(inputs)), labels, reduction="sum")
        (gradient,) = torch.autograd.grad(loss, inputs)
    return gradient


def fgsm(model: nn.Module, images: Tensor, labels: Tensor, epsilon: float, normalize: Normalize) -> Tensor:
    """Fast gradient sign method: one step of size ``epsilon`` along the gradient's sign.

    Args:
        model: maps normalised inputs to logits ``(B, K)``; run in eval mode here.
        images: ``(B, C, H, W)`` floating in [0, 1].
        labels: ``(B,)`` int64 class indices.
        epsilon: L-infinity radius in [0, 1] pixel units (8/255 on CIFAR, 0.1-0.3 on digits).
        normalize: maps [0, 1] images to model inputs (e.g. ``(x - mean) / std``).

    Returns:
        ``(B, C, H, W)`` adversarial images in [0, 1], ``|x' - x| <= epsilon``, detached.
    """
    _check(images, labels, epsilon, "fgsm")
    with _eval_mode(model):
        gradient = _input_gradient(model, normalize, images, labels)
    return (images + epsilon * gradient.sign()).clamp(0.0, 1.0).detach()


def pgd(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    epsilon: float,
    normalize: Normalize,
    steps: int = 10,
    alpha: float | None = None,
    random_start: bool = True,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Projected gradient descent (PGD-k) in the L-infinity ball, with a random start.

    Args:
        model: maps normalised inputs to logits ``(B, K)``; run in eval mode here.
        images: ``(B, C, H, W)`` floating in [0, 1].
        labels: ``(B,)`` int64 class indices.
        epsilon: L-infinity radius in [0, 1] pixel units.
        normalize: maps [0, 1] images to model inputs.
        steps: number of gradient steps ``k`` (>= 1).
        alpha: step size in pixel units; default ``2.5 * epsilon / steps``.
        random_start: start at a uniform point of the ball (Madry et al.); keep it on
            unless reproducing a deterministic attack.
        generator: draws the random start (default: augbench's default generator), on its
            own device, then moved to the images' device.

    Returns:
        ``(B, C, H, W)`` adversarial images in [0, 1], ``|x' - x| <= epsilon``, detached.
    """
    _check(images, labels, epsilon, "pgd")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise InputValueError(f"pgd: steps={steps!r} must be a positive int, e.g. 10")
    step = _PGD_STEP_FACTOR * epsilon / steps if alpha is None else alpha
    if isinstance(step, bool) or not isinstance(step, (int, float)) or step < 0:
        raise InputValueError(f"pgd: alpha={alpha!r} must be a number >= 0 (pixel units)")
    images = images.detach()
    low, high = (images - epsilon).clamp(min=0.0), (images + epsilon).clamp(max=1.0)
    adversarial = images
    if random_start:
        gen = resolve_generator(generator)
        noise = torch.rand(images.shape, generator=gen, device=gen.device, dtype=images.dtype).to(images.device)
        adversarial = (images + (2 * noise - 1) * epsilon).clamp(0.0, 1.0)
    with _eval_mode(model):
        for _ in range(steps):
            gradient = _input_gradient(model, normalize, adversarial, labels)
            adversarial = torch.maximum(torch.minimum(adversarial + step * gradient.sign(), high), low)
    return adversarial.detach()


def adversarial_accuracy(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    epsilon: float,
    normalize: Normalize,
    attack: str = "pgd",
    steps: int = 10,
    alpha: float | None = None,
    batch_size: int = 500,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> float:
    """Top-1 accuracy of ``model`` on adversarial versions of ``images``.

    Args:
        model: maps normalised inputs to logits; evaluated in eval mode (mode restored after).
        images: ``(N, C, H, W)`` uint8 (0-255) or floating in [0, 1].
        labels: ``(N,)`` int64 class indices.
        epsilon: L-infinity radius in [0, 1] pixel units; 0 gives the clean accuracy.
        normalize: maps [0, 1] float images to model inputs.
        attack: ``"fgsm"`` or ``"pgd"``.
        steps, alpha: PGD's step count and step size (default ``2.5 * epsilon / steps``).
        batch_size: images attacked at once.
        generator: PGD's random start (default: augbench's default generator).
        device: where the attack runs (default: the images' device).

    Returns:
        Accuracy in [0, 1] (higher is better).

    Raises:
        InputValueError: an unknown attack, mismatched inputs, ``epsilon`` outside [0, 1].
    """
    if attack not in ATTACKS:
        raise InputValueError(f"adversarial_accuracy: unknown attack {attack!r}; choose from {ATTACKS}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InputValueError(f"adversarial_accuracy: batch_size={batch_size!r} must be a positive int")
    if not isinstance(images, Tensor) or images.ndim != 4 or images.shape[0] == 0:
        raise InputValueError("adversarial_accuracy: images must be a non-empty (N, C, H, W) tensor")
    if not isinstance(labels, Tensor) or labels.shape != images.shape[:1]:
        raise InputValueError(
            f"adversarial_accuracy: labels must have shape ({images.shape[0]},), one class index per image"
        )
    target = images.device if device is None else torch.device(device)
    gen = resolve_generator(generator)
    correct = torch.zeros((), dtype=torch.int64, device=target)
    for start in range(0, images.shape[0], batch_size):
        batch = images[start : start + batch_size].to(target)
        batch = batch.float() / 255.0 if batch.dtype == torch.uint8 else batch
        batch_labels = labels[start : start + batch_size].to(target)
        if attack == "fgsm":
            adversarial = fgsm(model, batch, batch_labels, epsilon, normalize)
        else:
            adversarial = pgd(model, batch, batch_labels, epsilon, normalize, steps, alpha, generator=gen)
        with _eval_mode(model), torch.no_grad():
            correct += (model(normalize(adversarial)).argmax(1) == batch_labels).sum()
    return int(correct) / images.shape[0]
