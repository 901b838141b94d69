"""The RKHS view of augmentation-based SSL: the augmentation complexity kappa and tests of its predictions.

Zhai, Huang, Kolter, Lee and Zhang, "Understanding Augmentation-based Self-Supervised Representation
Learning via RKHS Approximation and Regression", ICLR 2024 (arXiv:2306.00788). An augmentation
distribution ``p(a|x)`` induces the kernel

    K(x, x') = integral p(a|x) p(a|x') / p(a) da,   p(a) = E_x p(a|x),

pretraining approximates its top-``d`` eigenspace, and a linear probe on ``n`` labels does RKHS
regression whose estimation error grows with ``kappa = sup_x K(x, x)`` and shrinks with ``n``.
The card (``shared/methods/contrastive.md``, "RKHS view") lists predictions a benchmark can
falsify; this module tests three of them on a sweep stored by ``augbench bench``:

1. probe error is U-shaped in the augmentation strength ``s``;
2. the best ``s`` moves towards stronger augmentation as ``n`` shrinks;
4. gains from a larger representation dimension ``d`` saturate.

**The kappa estimator** (:func:`augmentation_kappa`) depends on the augmentation and a sample of
inputs only, never on a network. For ``N`` inputs ``x_1..x_N`` it draws ``V`` keyed augmentations
``a_{v,i} ~ p(.|x_i)`` of each in **one** batched call of the transform (key of view ``v`` of input
``i``: :func:`augbench.keyed.sample_keys` with ``passes = v // 16``, ``view = v % 16``), flattens
them to pixel vectors in [0, 1] (uint8 / 255) of length ``D`` and estimates, with a Gaussian
kernel-density estimate of bandwidth ``h`` per pixel, ``k(a, b) = exp(-||a - b||^2 / (2 h^2 D))``:

    p^(a | x_j) = mean over the views v' of x_j of k(a, a_{v',j})   (leaving a itself out),
    p^(a)       = mean over j of p^(a | x_j),
    K^(x_i, x_i) = mean over v of p^(a_{v,i} | x_i) / p^(a_{v,i}),
    kappa^       = max over i of K^(x_i, x_i)   (and the mean of the diagonal).

The Gaussian normalising constants cancel in the ratio, so ``K^`` is the Monte-Carlo estimate
(consistent as ``V`` grows) of the kernel of the *smoothed* augmentation "augment, then add
N(0, h^2) noise to every pixel", with the ``N`` inputs standing in for ``p(x)``. It lies in
``[0, N]``: ``N`` when no two inputs' augmentations overlap (the identity augmentation of distinct
inputs gives about ``N``), ``1`` when every input's augmentations look alike. A larger ``h``
blurs every augmentation distribution, so compare ``kappa`` across strengths at one ``h`` (the
analysis prints several).

**Prediction tests** (:func:`u_shape_verdict`, :func:`shift_verdict`, :func:`saturation_verdict`)
take probe errors per level per seed; the best level is chosen on the validation probes when given
(never on the test split), and confidence statements are seed-paired Student-t 95 % intervals of
test-error differences (:func:`augbench.bench.stats.paired_difference`). Verdicts: ``supported``,
``consistent`` (agrees, but trivially), ``inconclusive`` (the intervals allow either),
``not observed`` and ``contradicted``.

Run the analysis of a stored sweep with::

    python -m augbench.theory.rkhs configs/rkhs_digits.yaml --db /tmp/rkhs.db --plot /tmp/rkhs_digits.png

Simplified: kappa is the KDE estimate above (a smoothed kernel, ``N`` a few hundred inputs); the
strength knob is ``RandomResizedCrop``'s scale lower bound only (no noise sweep); ``d`` is
SimCLR's projection dimension, while the probe reads the encoder's features ``h`` (the standard
SimCLR protocol), so prediction 4 is tested on the dimension of the contrastive embedding, not on
the probed representation's.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from augbench.bench.stats import mean_ci, paired_difference
from augbench.errors import ConfigError
from augbench.keyed import KEY_VIEWS, sample_keys

__all__ = [
    "KappaEstimate",
    "Verdict",
    "augmented_pixels",
    "kernel_diagonal",
    "augmentation_kappa",
    "u_shape_verdict",
    "shift_verdict",
    "saturation_verdict",
    "main",
]

Levels = Mapping[float, Mapping[int, float]]
"""Probe errors by level (strength ``s`` or dimension ``d``), then by seed."""

PROBE_METRIC = "linear_probe_accuracy_n"


@dataclass(frozen=True)
class KappaEstimate:
    """A Monte-Carlo estimate of the augmentation kernel's diagonal.

    Attributes:
        kappa: ``max_i K^(x_i, x_i)``, in ``[0, inputs]``.
        mean: ``mean_i K^(x_i, x_i)``.
        diagonal: ``(N,)`` float64 ``K^(x_i, x_i)``.
        inputs: ``N``.
        views: ``V`` augmentations per input.
        bandwidth: the KDE bandwidth ``h`` per pixel (pixels in [0, 1]).
    """

    kappa: float
    mean: float
    diagonal: Tensor
    inputs: int
    views: int
    bandwidth: float


@dataclass(frozen=True)
class Verdict:
    """The outcome of one prediction test: ``verdict`` is ``supported``, ``consistent``,
    ``inconclusive``, ``not observed`` or ``contradicted``; ``detail`` gives the numbers."""

    prediction: str
    verdict: str
    detail: str


def augmented_pixels(
    transform: Callable[..., Tensor] | None, inputs: Tensor, views: int = 16, seed: int = 0
) -> Tensor:
    """``V`` keyed augmentations of every input from one batched transform call, as pixel vectors.

    Args:
        transform: an engine transform taking ``keys=``/``seed=`` and keeping the sample shape;
            ``None`` is the identity augmentation.
        inputs: ``(N, ...)`` uint8 in 0-255 or float in [0, 1] samples, ``N >= 2``.
        views: ``V >= 2`` augmentations per input.
        seed: the seed of the keyed draws.

    Returns:
        ``(V, N, D)`` float64 in [0, 1] (uint8 divided by 255), view-major; row ``(v, i)`` is
        augmentation ``v`` of input ``i`` and depends on ``(seed, i, v)`` only.

    Raises:
        ConfigError: fewer than 2 inputs or views, or a transform that changes the sample shape.
    """
    if not isinstance(inputs, Tensor) or inputs.ndim < 2 or inputs.shape[0] < 2:
        got = tuple(inputs.shape) if isinstance(inputs, Tensor) else type(inputs).__name__
        raise ConfigError(f"rkhs: inputs must be an (N, ...) tensor with N >= 2 samples, got {got}")
    if isinstance(views, bool) or not isinstance(views, int) or views < 2:
        raise ConfigError(f"rkhs: views={views!r} must be an integer >= 2 (the density estimate leaves one view out)")
    count = inputs.shape[0]
    ids = torch.arange(count, device=inputs.device)
    keys = torch.cat([sample_keys(ids, view // KEY_VIEWS, count, view % KEY_VIEWS) for view in range(views)])
    repeated = torch.cat([inputs] * views)
    augmented = repeated if transform is None else transform(repeated, keys=keys, seed=seed)
    if augmented.shape != repeated.shape:
        raise ConfigError(
            f"rkhs: the transform turns samples of shape {tuple(inputs.shape[1:])} into {tuple(augmented.shape[1:])}; "
            "kappa compares augmentations pixel by pixel, so keep the size (RandomResizedCrop size: null)"
        )
    pixels = augmented.reshape(views, count, -1).to(torch.float64)
    return pixels if augmented.dtype.is_floating_point else pixels / 255.0


def kernel_diagonal(pixels: Tensor, bandwidth: float = 0.1, chunk: int = 1024) -> Tensor:
    """``K^(x_i, x_i)`` from the augmentations ``pixels`` by the leave-one-out KDE ratio (module docstring).

    Args:
        pixels: ``(V, N, D)`` float augmentations (:func:`augmented_pixels`), ``V, N >= 2``.
        bandwidth: Gaussian bandwidth ``h > 0`` per pixel, in the pixels' unit.
        chunk: query rows per block (memory ``chunk * V * N`` floats).

    Returns:
        ``(N,)`` float64, each in ``[0, N]``.

    Raises:
        ConfigError: a bad shape or bandwidth.
    """
    if pixels.ndim != 3 or pixels.shape[0] < 2 or pixels.shape[1] < 2:
        raise ConfigError(f"rkhs: pixels must be (V, N, D) with V, N >= 2, got {tuple(pixels.shape)}")
    if not isinstance(bandwidth, (int, float)) or isinstance(bandwidth, bool) or not bandwidth > 0:
        raise ConfigError(f"rkhs: bandwidth={bandwidth!r} must be a number > 0, e.g. 0.1 (pixels in [0, 1])")
    views, count, size = pixels.shape
    flat = pixels.reshape(views * count, size).to(torch.float64)
    squared = (flat * flat).sum(1)
    scale = 2.0 * float(bandwidth) ** 2 * size
    diagonal = torch.zeros(count, dtype=torch.float64, device=flat.device)
    for start in range(0, views * count, chunk):
        rows = torch.arange(start, min(start + chunk, views * count), device=flat.device)
        block = torch.arange(rows.numel(), device=flat.device)
        distances = (squared[rows, None] + squared[None, :] - 2.0 * flat[rows] @ flat.T).clamp_min(0.0)
        log_kernel = -distances / scale
        log_kernel[block, rows] = -math.inf  # the query is not its own density sample
        own = rows % count
        samples = torch.full((rows.numel(), count), float(views), dtype=torch.float64, device=flat.device)
        samples[block, own] = views - 1
        log_conditional = torch.logsumexp(log_kernel.view(rows.numel(), views, count), dim=1) - samples.log()
        log_marginal = torch.logsumexp(log_conditional, dim=1) - math.log(count)
        diagonal.index_add_(0, own, (log_conditional[block, own] - log_marginal).exp())
    return diagonal / views


def augmentation_kappa(
    transform: Callable[..., Tensor] | None,
    inputs: Tensor,
    *,
    views: int = 16,
    bandwidth: float = 0.1,
    seed: int = 0,
) -> KappaEstimate:
    """Estimate ``kappa = sup_x K(x, x)`` of an augmentation on a sample of inputs (no network).

    Args:
        transform: the augmentation (an engine transform; ``None``: identity).
        inputs: ``(N, ...)`` uint8 or [0, 1] float samples standing in for ``p(x)``.
        views: augmentations per input.
        bandwidth: KDE bandwidth per pixel.
        seed: seed of the keyed draws.

    Shape:
        ``inputs`` ``(N, ...)`` -> ``KappaEstimate.diagonal`` ``(N,)`` float64.

    >>> images = torch.arange(4 * 16, dtype=torch.uint8).reshape(4, 1, 4, 4) * 4
    >>> round(augmentation_kappa(None, images, views=2, bandwidth=0.01).kappa, 3)
    4.0
    """
    diagonal = kernel_diagonal(augmented_pixels(transform, inputs, views, seed), bandwidth)
    return KappaEstimate(float(diagonal.max()), float(diagonal.mean()), diagonal, inputs.shape[0], views,
                         float(bandwidth))


def _mean(values: Mapping[int, float]) -> float:
    return sum(values.values()) / len(values)


def _check_levels(errors: Levels, order: Sequence[float], what: str) -> None:
    missing = [level for level in order if level not in errors or not errors[level]]
    if missing:
        raise ConfigError(f"rkhs: {what} has no errors at {missing}; run the whole sweep first")


def _ci(mean: float, half_width: float) -> str:
    return f"{100 * mean:+.2f} +- {100 * half_width:.2f} pp"


def u_shape_verdict(test: Levels, order: Sequence[float], val: Levels | None = None, symbol: str = "s") -> Verdict:
    """Prediction 1: the error is U-shaped in strength, its minimum strictly inside the sweep.

    The best level is the lowest mean error on ``val`` (on ``test`` when no validation errors are
    given, said in the detail). ``supported``: it is interior and both ends of the sweep have a
    higher test error than it, each seed-paired 95 % interval above 0; ``contradicted``: the best
    is an end of the sweep (a monotone curve, or a range too narrow), or an end is significantly
    better than it on test; else ``inconclusive``.

    Args:
        test: test errors by level and seed.
        order: the levels from weakest to strongest augmentation, at least 3.
        val: validation errors, same layout, for choosing the best level.
        symbol: the strength's name in the detail (``s`` crop scale, ``sigma`` noise).
    """
    if len(order) < 3:
        raise ConfigError(f"rkhs: a U-shape needs >= 3 strengths, got {list(order)}")
    _check_levels(test, order, "the test errors")
    chooser, where = (val, "val") if val is not None else (test, "test (no val split)")
    _check_levels(chooser, order, "the validation errors")
    best = min(order, key=lambda level: _mean(chooser[level]))
    if best in (order[0], order[-1]):
        end = "weakest" if best == order[0] else "strongest"
        detail = f"best {symbol}={best:g} (on {where}) is the {end} end of the sweep: monotone, or the range is too narrow"
        return Verdict("1 U-shape", "contradicted", detail)
    ends = {end: paired_difference(dict(test[end]), dict(test[best])) for end in (order[0], order[-1])}
    lows = [mean - half for mean, half, _ in ends.values()]
    highs = [mean + half for mean, half, _ in ends.values()]
    verdict = ("supported" if all(low > 0 for low in lows)
               else "contradicted" if any(high < 0 for high in highs) else "inconclusive")
    detail = f"best {symbol}={best:g} (on {where}); test error minus best's: " + "; ".join(
        f"{symbol}={end:g} {_ci(mean, half)}" for end, (mean, half, _) in ends.items())
    return Verdict("1 U-shape", verdict, detail)


def shift_verdict(test_by_n: Mapping[int, Levels], order: Sequence[float],
                  val_by_n: Mapping[int, Levels] | None = None, symbol: str = "s") -> Verdict:
    """Prediction 2: the best strength moves towards stronger augmentation as ``n`` shrinks.

    Two pieces of evidence: (a) the best level per ``n`` (lowest mean ``val`` error, else test)
    is stronger for the smallest ``n`` than for the largest; (b) the seed-paired interaction
    contrast ``C = [e(n_min, strongest) - e(n_min, weakest)] - [e(n_max, strongest) - e(n_max,
    weakest)]`` of test errors is below 0 (strong augmentation helps relatively more with few
    labels), its 95 % interval excluding 0. ``supported``: both agree; ``contradicted``: one
    opposes and neither agrees; ``not observed``: the optimum does not move and ``C``'s interval
    holds 0; else ``inconclusive``.

    Args:
        test_by_n: test errors by ``n``, then level, then seed.
        order: levels from weakest to strongest.
        val_by_n: validation errors, same layout.
        symbol: the strength's name in the detail.
    """
    ns = sorted(test_by_n)
    if len(ns) < 2:
        raise ConfigError(f"rkhs: a shift with n needs >= 2 label counts, got {ns}")
    chooser = val_by_n if val_by_n is not None else test_by_n
    best = {}
    for n in ns:
        _check_levels(test_by_n[n], order, f"n={n} test")
        _check_levels(chooser[n], order, f"n={n} validation")
        best[n] = min(range(len(order)), key=lambda index: _mean(chooser[n][order[index]]))
    small, large = ns[0], ns[-1]
    weak, strong = order[0], order[-1]
    seeds = sorted(set.intersection(*(set(test_by_n[n][level]) for n in (small, large) for level in (weak, strong))))
    contrast = [(test_by_n[small][strong][s] - test_by_n[small][weak][s])
                - (test_by_n[large][strong][s] - test_by_n[large][weak][s]) for s in seeds]
    mean, half = mean_ci(contrast) if contrast else (math.nan, math.nan)
    moved = (best[small] > best[large]) - (best[small] < best[large])  # +1: stronger optimum with fewer labels
    interaction = 1 if mean + half < 0 else -1 if mean - half > 0 else 0
    if moved + interaction == 2:
        verdict = "supported"
    elif moved <= 0 and interaction <= 0 and moved + interaction < 0:
        verdict = "contradicted"
    elif moved == 0 and interaction == 0:
        verdict = "not observed"
    else:
        verdict = "inconclusive"
    path = ", ".join(f"n={n}: {symbol}={order[best[n]]:g}" for n in ns)
    where = "val" if val_by_n is not None else "test"
    detail = f"best {symbol} by n (on {where}): {path}; interaction contrast C = {_ci(mean, half)} (predicted < 0)"
    return Verdict("2 shift with n", verdict, detail)


def saturation_verdict(test: Levels, dims: Sequence[float]) -> Verdict:
    """Prediction 4: the gains from a larger dimension ``d`` saturate.

    Gains ``g_k = e(d_k) - e(d_{k+1})`` (test error, seed-paired; > 0 when the larger ``d``
    helps). ``supported``: the first gain exceeds the last (the seed-paired interval of
    ``g_first - g_last`` above 0); ``consistent``: no gain's interval, nor that of the total
    ``e(d_min) - e(d_max)``, excludes 0 (flat: saturated from the smallest ``d``, which agrees but
    says little); ``contradicted``: the last gain is above 0 and not smaller than the first;
    else ``inconclusive``.

    Args:
        test: test errors by dimension and seed.
        dims: the dimensions, ascending, at least 3.
    """
    if len(dims) < 3:
        raise ConfigError(f"rkhs: saturation needs >= 3 dimensions, got {list(dims)}")
    _check_levels(test, dims, "the d sweep")
    seeds = sorted(set.intersection(*(set(test[d]) for d in dims)))
    gains = [{s: test[low][s] - test[high][s] for s in seeds} for low, high in zip(dims, dims[1:])]
    stats = [mean_ci(list(gain.values())) for gain in gains]
    drop_mean, drop_half = mean_ci([gains[0][s] - gains[-1][s] for s in seeds])
    total_mean, total_half = mean_ci([test[dims[0]][s] - test[dims[-1]][s] for s in seeds])
    last_mean, last_half = stats[-1]
    if drop_mean - drop_half > 0:
        verdict = "supported"
    elif all(abs(mean) <= half for mean, half in stats) and abs(total_mean) <= total_half:
        verdict = "consistent"
    elif last_mean - last_half > 0 and drop_mean <= 0:
        verdict = "contradicted"
    else:
        verdict = "inconclusive"
    pairs = zip(dims, dims[1:])
    steps = "; ".join(f"{low:g}->{high:g} {_ci(mean, half)}" for (low, high), (mean, half) in zip(pairs, stats))
    detail = (f"gains (error drop) {steps}; first - last gain {_ci(drop_mean, drop_half)}; "
              f"total d={dims[0]:g}->{dims[-1]:g} {_ci(total_mean, total_half)}")
    return Verdict("4 saturation in d", verdict, detail)


# ---------------------------------------------------------------- the analysis of a stored sweep


@dataclass(frozen=True)
class _Knob:
    """An augmentation-strength axis: the transform whose argument sets the strength."""

    transform: str
    symbol: str
    axis: str
    identity: float  # the level that is no augmentation at all
    stronger_is_smaller: bool
    level: Callable[[Mapping[str, object]], float]


def _largest(value: object) -> float:
    return float(max(value)) if isinstance(value, (list, tuple)) else float(value)  # type: ignore[arg-type]


KNOBS = {
    knob.transform: knob for knob in (
        _Knob("RandomResizedCrop", "s", "crop scale lower bound s", 1.0, True, lambda spec: float(spec["scale"][0])),
        _Knob("GaussianNoise", "sigma", "noise sigma (fraction of the range)", 0.0, False,
              lambda spec: _largest(spec["sigma"])),
    )
}
"""The strength knobs a sweep may turn, by transform name; one knob per sweep."""


@dataclass(frozen=True)
class _Cell:
    """One configuration of the sweep: the knob's transform, its strength level, the projection dimension ``d``."""

    knob: str
    strength: float
    dim: int


def _strength(spec: object) -> list[tuple[str, float]]:
    """Every ``(knob, level)`` found in a resolved transform spec (Compose searched)."""
    if not isinstance(spec, Mapping):
        return []
    found = [(spec["type"], KNOBS[spec["type"]].level(spec))] if spec.get("type") in KNOBS else []
    for inner in spec.get("transforms", ()):
        found += _strength(inner)
    return found


def _cell(method: Mapping[str, object], label: str) -> _Cell:
    if method.get("type") != "simclr":
        raise ConfigError(f"rkhs: method {label!r} is {method.get('type')!r}; the RKHS sweep runs simclr only")
    found = _strength(method.get("augment"))
    if len(found) != 1:
        raise ConfigError(
            f"rkhs: method {label!r} needs exactly one strength knob in its augment ({' or '.join(KNOBS)}), "
            f"found {[name for name, _ in found] or 'none'}"
        )
    (knob, level), = found
    return _Cell(knob, level, int(method["projection_dim"]))


def _sweep_axes(cells: Sequence[_Cell]) -> tuple[int, float]:
    """The ``d`` of the strength sweep (the one with most strengths) and the strength of the ``d`` sweep."""
    dims = sorted({c.dim for c in cells}, key=lambda d: (-len({c.strength for c in cells if c.dim == d}), -d))
    strengths = sorted({c.strength for c in cells}, key=lambda s: (-len({c.dim for c in cells if c.strength == s}), s))
    return dims[0], strengths[0]


def _load(config: str, db: str) -> tuple[dict[_Cell | str, dict[str, dict[int, dict[int, float]]]], list, list[int]]:
    """Errors ``{cell: {split: {n: {seed: 1 - accuracy}}}}`` (a method other than simclr, e.g. the
    untrained floor, under its label as a reference), the stored runs' specs and the ``n``."""
    from augbench.bench.experiment import load_experiment
    from augbench.bench.store import Store

    experiment = load_experiment(config)
    stored = {run.key: run for run in Store(db, create=False).load_results()}
    specs = [spec for spec in experiment.runs() if spec.key in stored]
    if not specs:
        raise ConfigError(f"rkhs: {db} holds no run of {config}; run augbench bench {config} --db {db} first")
    errors: dict[_Cell | str, dict[str, dict[int, dict[int, float]]]] = {}
    ns: set[int] = set()
    for spec in specs:
        metrics = stored[spec.key].metrics
        cell = _cell(spec.method, spec.label) if spec.method.get("type") == "simclr" else spec.label
        for split in ("test", "val"):
            prefix = f"{split}_{PROBE_METRIC}"
            for name, value in metrics.items():
                if name.startswith(prefix):
                    n = int(name[len(prefix):])
                    ns.add(n)
                    errors.setdefault(cell, {}).setdefault(split, {}).setdefault(n, {})[spec.seed] = 1.0 - value
    if not ns:
        raise ConfigError(
            f"rkhs: the runs of {config} have no {PROBE_METRIC}* metrics; add linear_probe_n to evaluations"
        )
    return errors, specs, sorted(ns)


def _kappas(specs: Sequence, knob: _Knob, strengths: Sequence[float], dim: int, inputs: int, views: int,
            bandwidths: Sequence[float]) -> dict[float, dict[float, KappaEstimate]]:
    """``{level: {h: kappa}}`` of each strength's view pipeline (the method's ``augment``) on the
    first ``inputs`` labeled samples of the first stored run's data; the knob's identity level
    (crop scale 1, noise 0) as no augmentation."""
    from augbench.data.streams import prepare_run_data
    from augbench.methods.spec import MethodContext, build_method

    first = specs[0]
    data = prepare_run_data(first.dataset, first.data, first.seed, first.data_root)
    sample = data.streams["labeled"].inputs[:inputs]
    context = MethodContext(data.num_classes, data.input_shape, data.modality)
    pipelines: dict[float, Callable[..., Tensor] | None] = {knob.identity: None}
    for spec in specs:
        if spec.method.get("type") != "simclr":
            continue
        cell = _cell(spec.method, spec.label)
        if cell.dim == dim and cell.strength in strengths and cell.strength not in pipelines:
            pipelines[cell.strength] = build_method(spec.method, context).augment
    return {s: {h: augmentation_kappa(t, sample, views=views, bandwidth=h, seed=first.seed) for h in bandwidths}
            for s, t in pipelines.items()}


def _figure(path: Path, knob: _Knob, by_n: Mapping[int, Mapping[float, Mapping[int, float]]],
            strengths: Sequence[float], by_d: Mapping[int, Mapping[float, Mapping[int, float]]], dims: Sequence[float],
            kappas: Mapping[float, Mapping[float, KappaEstimate]], strength_of_d: float,
            references: Mapping[str, Mapping[int, Mapping[int, float]]]) -> None:
    """Probe error against the strength for each ``n`` (with the references as lines), against
    ``d`` when the sweep has a ``d`` sweep, and kappa against the strength; stronger to the right."""
    from augbench.extras import missing_extra

    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import FormatStrFormatter
    except ModuleNotFoundError as error:
        raise missing_extra(error, "the RKHS figure") from None

    with_d = len(dims) > 1
    figure = Figure(figsize=(13.0 if with_d else 9.0, 3.8), layout="constrained")
    FigureCanvasAgg(figure)
    panels = list(figure.subplots(1, 3 if with_d else 2))
    error_s, kappa_axes = panels[0], panels[-1]
    for index, (n, errors) in enumerate(by_n.items()):
        stats = [mean_ci(list(errors[s].values())) for s in strengths]
        error_s.errorbar(strengths, [100 * m for m, _ in stats], yerr=[100 * h for _, h in stats], marker="o",
                         capsize=3, color=f"C{index}", label=f"n={n}/class")
        for style, reference in zip((":", "-."), references.values()):
            error_s.axhline(100 * _mean(reference[n]), linestyle=style, linewidth=1, color=f"C{index}")
        if with_d:
            stats = [mean_ci(list(by_d[n][d].values())) for d in dims]
            panels[1].errorbar(dims, [100 * m for m, _ in stats], yerr=[100 * h for _, h in stats], marker="o",
                               capsize=3, color=f"C{index}", label=f"n={n}/class")
    error_s.set(xlabel=f"{knob.axis} (stronger ->)", ylabel="test probe error (%)",
                title="probe error vs augmentation strength", yscale="log")
    error_s.legend(fontsize=8, title=" ".join(f"{style}: {label}" for style, label in zip((":", "-."), references)),
                   title_fontsize=7)
    if with_d:
        panels[1].set(xscale="log", xlabel=f"projection dim d ({knob.symbol}={strength_of_d:g})",
                      ylabel="test probe error (%)", title="probe error vs d", yscale="log")
        panels[1].set_xticks(list(dims), [f"{d:g}" for d in dims])
    for axes in panels[:-1]:
        axes.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        axes.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
        axes.tick_params(axis="y", which="minor", labelsize=7)
    levels = sorted(kappas, reverse=knob.stronger_is_smaller)
    for index, h in enumerate(next(iter(kappas.values()))):
        kappa_axes.plot(levels, [kappas[s][h].kappa for s in levels], marker="o", color=f"C{index}",
                        label=f"sup, h={h:g}")
        kappa_axes.plot(levels, [kappas[s][h].mean for s in levels], marker="x", linestyle="--", color=f"C{index}",
                        label=f"mean, h={h:g}")
    kappa_axes.set(xlabel=f"{knob.axis} ({knob.identity:g} = identity)", ylabel="K(x, x)", yscale="log",
                   title=f"augmentation complexity kappa({knob.symbol})")
    kappa_axes.legend(fontsize=7)
    if knob.stronger_is_smaller:
        error_s.invert_xaxis()
        kappa_axes.invert_xaxis()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


def main(argv: Sequence[str] | None = None) -> list[Verdict]:
    """Print the probe error vs the strength for each ``n`` with 95 % CIs, kappa and the verdicts of
    predictions 1, 2 and 4 (4 when the sweep has a ``d`` sweep) for a sweep stored by
    ``augbench bench``; draw the figure."""
    parser = argparse.ArgumentParser(prog="python -m augbench.theory.rkhs", description=main.__doc__)
    parser.add_argument("config", help="the sweep's experiment file, e.g. configs/rkhs_digits.yaml")
    parser.add_argument("--db", required=True, help="the results database the sweep was run into")
    parser.add_argument("--plot", default=None, help="PNG path of the figure (default: next to the db)")
    parser.add_argument("--kappa-inputs", type=int, default=256, help="inputs of the kappa estimate (N)")
    parser.add_argument("--kappa-views", type=int, default=16, help="augmentations per input (V)")
    parser.add_argument("--bandwidths", type=float, nargs="+", default=[0.05, 0.1, 0.2], help="KDE bandwidths h")
    parser.add_argument("--strengths", type=float, nargs="+", default=None,
                        help="analyse only these strength levels (default: every one stored)")
    args = parser.parse_args(argv)
    errors, specs, ns = _load(args.config, args.db)
    references = {label: errors.pop(label) for label in [key for key in errors if isinstance(key, str)]}
    knobs = sorted({cell.knob for cell in errors})
    if len(knobs) != 1:
        raise ConfigError(f"rkhs: {args.config} turns {knobs or 'no'} strength knobs; one sweep turns one "
                          f"({' or '.join(KNOBS)}): split it into one config per knob")
    knob = KNOBS[knobs[0]]
    dim, strength_of_d = _sweep_axes(list(errors))
    strengths = sorted({c.strength for c in errors if c.dim == dim}, reverse=knob.stronger_is_smaller)  # weakest first
    if args.strengths is not None:
        missing = sorted(set(args.strengths) - set(strengths))
        if missing:
            raise ConfigError(f"rkhs: --strengths {missing} are not in the sweep, which has {strengths}")
        strengths = [s for s in strengths if s in args.strengths]
    dims = sorted({c.dim for c in errors if c.strength == strength_of_d})
    by_split = {split: {n: {s: errors[_Cell(knob.transform, s, dim)].get(split, {}).get(n, {}) for s in strengths}
                        for n in ns} for split in ("test", "val")}
    has_val = all(by_split["val"][n][s] for n in ns for s in strengths)
    by_d = {n: {d: errors[_Cell(knob.transform, strength_of_d, d)]["test"][n] for d in dims} for n in ns}
    seeds = sorted({seed for n in ns for s in strengths for seed in by_split["test"][n][s]})
    symbol = knob.symbol
    print(f"RKHS sweep {args.config}: SimCLR, {symbol} = {knob.axis} ({knob.identity:g} = identity), d={dim}, "
          f"{len(seeds)} seeds; probe error = 1 - test_{PROBE_METRIC}<n> (%, mean +- 95 % CI)")
    print("n/class | " + " | ".join(f"{symbol}={s:g}" for s in strengths))
    for n in ns:
        cells = [mean_ci(list(by_split["test"][n][s].values())) for s in strengths]
        print(f"{n:7d} | " + " | ".join(f"{100 * m:.2f} +- {100 * h:.2f}" for m, h in cells))
    for label, reference in references.items():
        cells = [mean_ci(list(reference["test"][n].values())) for n in ns]
        print(f"reference {label}: " + "; ".join(f"n={n} {100 * m:.2f} +- {100 * h:.2f}"
                                                 for n, (m, h) in zip(ns, cells)))
    if len(dims) > 1:
        print(f"d sweep at {symbol}={strength_of_d:g}: probe error (%)")
        print("n/class | " + " | ".join(f"d={d}" for d in dims))
        for n in ns:
            cells = [mean_ci(list(by_d[n][d].values())) for d in dims]
            print(f"{n:7d} | " + " | ".join(f"{100 * m:.2f} +- {100 * h:.2f}" for m, h in cells))
    kappas = _kappas(specs, knob, strengths, dim, args.kappa_inputs, args.kappa_views, args.bandwidths)
    first = next(iter(next(iter(kappas.values())).values()))
    print(f"kappa({symbol}) = max_i K(x_i, x_i) [mean_i] over N={first.inputs} labeled inputs, V={first.views} views, "
          f"KDE bandwidth h per pixel (upper bound N; {symbol}={knob.identity:g} is the identity):")
    for s in sorted(kappas, reverse=knob.stronger_is_smaller):
        print(f"  {symbol}={s:g}: " + "; ".join(f"h={h:g} {k.kappa:.1f} [{k.mean:.1f}]" for h, k in kappas[s].items()))
    test_best = {n: min(strengths, key=lambda s: _mean(by_split["test"][n][s])) for n in ns}
    print("lowest mean test error (descriptive; the verdicts choose on val): "
          + ", ".join(f"n={n}: {symbol}={s:g}" for n, s in test_best.items()))
    verdicts = [u_shape_verdict(by_split["test"][n], strengths, by_split["val"][n] if has_val else None, symbol)
                for n in ns]
    verdicts = [Verdict(f"{v.prediction} (n={n})", v.verdict, v.detail) for n, v in zip(ns, verdicts)]
    verdicts.append(shift_verdict(by_split["test"], strengths, by_split["val"] if has_val else None, symbol))
    if len(dims) >= 3:
        verdicts += [Verdict(f"{v.prediction} (n={n})", v.verdict, v.detail)
                     for n, v in ((n, saturation_verdict(by_d[n], dims)) for n in ns)]
    else:
        print("prediction 4 (saturation in d): not tested, the sweep has no d sweep (>= 3 projection dims)")
    for verdict in verdicts:
        print(f"prediction {verdict.prediction}: {verdict.verdict.upper()} -- {verdict.detail}")
    plot = Path(args.plot) if args.plot else Path(args.db).with_suffix(".rkhs.png")
    _figure(plot, knob, by_split["test"], strengths, by_d, dims, kappas, strength_of_d,
            {label: reference["test"] for label, reference in references.items()})
    print(f"figure: {plot}")
    return verdicts


if __name__ == "__main__":
    main()
