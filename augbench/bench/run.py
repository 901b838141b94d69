"""Train and evaluate one run: its data streams, its method's phases (cached), its evaluations."""

from __future__ import annotations

import hashlib
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

import augbench
from augbench.bench.device import check_device
from augbench.bench.spec import CONVENTIONS, RunSpec, resolve_component
from augbench.data.streams import RunData, Split, prepare_run_data
from augbench.errors import ConfigError
from augbench.evaluation import EvalContext, evaluate_all
from augbench.methods.base import Method, Phase
from augbench.methods.spec import MethodContext, build_method
from augbench.metrics import peak_memory_bytes, reset_peak_memory
from augbench.modalities import get_modality
from augbench.models import build_model
from augbench.registry import canonical_json
from augbench.train.active import fit_active
from augbench.train.cache import CachedPhase, PhaseCache
from augbench.train.context import TrainContext
from augbench.train.loop import PhaseOutcome, PhaseSettings, check_streams, fit, make_context, probe_batch, step_sizes

__all__ = ["RunResult", "Checkpoint", "train_run", "dry_run", "environment", "Progress", "TRAINERS"]

TRAINERS = {"steps": fit, "active_learning": fit_active}
"""How a phase trains, by its ``Phase.trainer``: the step loop, or the active-learning rounds."""


@dataclass
class Progress:
    """Progress callbacks: ``planned(epochs)`` once per run with its total epochs over all
    phases, ``epoch()`` after every trained epoch (cached phases report none)."""

    planned: Callable[[int], None] = lambda epochs: None
    epoch: Callable[[], None] = lambda: None


@dataclass(frozen=True)
class Checkpoint:
    """Where a phase's weights went: phase name, its cache key, the file (``None``: no cache)."""

    phase: str
    key: str
    path: str | None
    reused: bool


@dataclass
class RunResult:
    """The outcome of one finished run.

    Attributes:
        spec: the run's resolved spec.
        metrics: final scalars: the evaluations' metrics (``test_accuracy`` in [0, 1], ...) and
            cost (``train_images_per_s``, ``augmentation_time_fraction``, ``peak_memory_mb``,
            ``wall_time_s``).
        curves: per-epoch ``(phase, epoch, name, value)`` (``train_loss`` and what methods log).
        phase_metrics: per phase, its cost figures (``train_time_s``, ``augmentation_time_s``, ...).
        checkpoints: the phases' cache entries.
        environment: library versions and device.
        artifacts: structured results (JSON-ready), e.g. the reliability diagram.
    """

    spec: RunSpec
    metrics: dict[str, float]
    curves: list[tuple[str, int, str, float]] = field(default_factory=list)
    phase_metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)


def environment(device: torch.device) -> dict[str, Any]:
    """Versions and device, stored with every result."""
    return {
        "augbench": augbench.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "threads": torch.get_num_threads(),
    }


def _build_model(model_spec: dict[str, Any], data: RunData, seed: int, device: torch.device) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(model_spec, num_classes=data.num_classes, input_shape=data.input_shape, modality=data.modality,
                            vocab_size=data.vocab_size)
        return model.to(device)


def _phase_identity(spec: RunSpec, phase: Phase, model: dict[str, Any], settings: PhaseSettings, after: list[str]) -> str:
    return canonical_json({
        "dataset": spec.dataset,
        "data": spec.data.identity(),
        "seed": spec.seed,
        "phase": phase.name,
        "method": dict(phase.spec),
        "model": model,
        "init_from": phase.init_from,
        "epochs": settings.epochs,
        "batch_size": settings.batch_size,
        "ratio": settings.ratio,
        "optimizer": resolve_component("optimizer", settings.optimizer),
        "schedule": resolve_component("schedule", settings.schedule),
        "frozen": list(settings.frozen),
        "after": after,
        "conventions": CONVENTIONS,
    })


def _phases(method: Method, context: MethodContext, label: str) -> list[Phase]:
    phases = method.phases(context)
    if not phases:
        raise ConfigError(f"method {label!r} declares no phase; return at least one (epochs=0 to train nothing)")
    return phases


def _trainer(phase: Phase, label: str) -> Callable[..., PhaseOutcome]:
    """The function that trains ``phase`` (:data:`TRAINERS`); one line for an unknown trainer."""
    if phase.trainer not in TRAINERS:
        raise ConfigError(
            f"method {label!r}: phase {phase.name!r} has trainer={phase.trainer!r}; use one of {', '.join(TRAINERS)}"
        )
    return TRAINERS[phase.trainer]


def _settings(spec: RunSpec, phase: Phase) -> PhaseSettings:
    return PhaseSettings(
        epochs=spec.epochs if phase.epochs is None else phase.epochs,
        batch_size=spec.batch_size,
        ratio=spec.data.ratio,
        optimizer=phase.optimizer or spec.optimizer,
        schedule=phase.schedule or spec.schedule,
        frozen=phase.frozen,
    )


def train_run(
    spec: RunSpec,
    device: torch.device | str = "cpu",
    cache_dir: str | Path | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Train every phase of ``spec``'s method (reusing cached phases) and evaluate the result.

    Deterministic for a given spec on the CPU: data split, initialisation, batch orders and
    keyed augmentation are all functions of the spec and its seed.

    Args:
        spec: the run.
        device: training device.
        cache_dir: the phase weights cache folder, ``None`` for no cache.
        progress: epoch callbacks (progress bars).
    """
    progress = progress or Progress()
    device = check_device(device)
    started = time.perf_counter()
    data = prepare_run_data(spec.dataset, spec.data, spec.seed, spec.data_root)
    context = MethodContext(data.num_classes, data.input_shape, data.modality)
    method: Method = build_method(spec.method, context)
    check_streams(method, tuple(data.streams), spec.label)
    data = method.prepare_data(data, spec.seed)
    phases = _phases(method, context, spec.label)
    plans = [_settings(spec, phase) for phase in phases]
    progress.planned(sum(settings.epochs for settings in plans))
    normalize = get_modality(data.modality).fit_normalizer(data.streams["labeled"].inputs).to(device)
    cache = PhaseCache(cache_dir)
    reset_peak_memory(device)
    models: dict[str, nn.Module] = {}
    keys: list[str] = []
    result = RunResult(spec, {}, environment=environment(device))
    for phase, settings in zip(phases, plans):
        check_streams(phase.method, tuple(data.streams), spec.label)
        model_spec = spec.model if phase.model is None else resolve_component("model", phase.model)
        identity = _phase_identity(spec, phase, model_spec, settings, list(keys))
        key = hashlib.sha256(identity.encode()).hexdigest()[:20]
        model = _build_model(model_spec, data, spec.seed, device)
        if phase.init_from is not None:
            model.load_state_dict(models[phase.init_from].state_dict())
        ctx = make_context(phase.method, model, data, settings, seed=spec.seed, device=device,
                           normalize=normalize, models=models)
        cached = cache.load(key, identity)
        if cached is not None:
            model.load_state_dict(cached.model)
            for name, module in ctx.modules.items():
                if name not in cached.modules:
                    raise ConfigError(
                        f"phase cache file {cache.path(key)} has no weights for module {name!r} of phase "
                        f"{phase.name!r}; delete it to train the phase again"
                    )
                module.load_state_dict(cached.modules[name])
            curves, phase_metrics = cached.curves, cached.metrics
        else:
            outcome = _trainer(phase, spec.label)(phase.method, ctx, data, settings, seed=spec.seed,
                                                  on_epoch=lambda _epoch: progress.epoch())
            curves, phase_metrics = outcome.curves, outcome.metrics
            state = {name: module.state_dict() for name, module in ctx.modules.items()}
            cache.save(key, identity, CachedPhase(model.state_dict(), state, curves, phase_metrics))
        path = cache.path(key)
        result.checkpoints.append(Checkpoint(phase.name, key, None if path is None else str(path), cached is not None))
        result.curves.extend((phase.name, epoch, name, value) for epoch, name, value in curves)
        models[phase.name] = phase.method.eval_model(model)
        if phase.evaluations:  # e.g. the KD teacher's own accuracy, stored with the phase's metrics
            phase_ctx = EvalContext(phase.method, models[phase.name], models, data, normalize, device, spec.seed)
            phase_metrics = {**phase_metrics, **evaluate_all(phase.evaluations, phase_ctx)[0]}
        result.phase_metrics[phase.name] = phase_metrics
        keys.append(key)
    final = models[phases[-1].name]
    eval_ctx = EvalContext(method, final, models, data, normalize, device, spec.seed)
    metrics, artifacts = evaluate_all((*method.evaluations, *spec.evaluations), eval_ctx)
    result.metrics.update(metrics)
    result.artifacts.update(artifacts)
    result.metrics.update(_cost(result.phase_metrics))
    result.metrics["peak_memory_mb"] = peak_memory_bytes(device) / 2**20
    result.metrics["wall_time_s"] = time.perf_counter() - started
    return result


PROBE_SAMPLES = 32
"""Samples per split (and per stream batch) of a dry run."""


def dry_run(spec: RunSpec, data: RunData, device: torch.device | str = "cpu") -> float:
    """Everything :func:`train_run` does, on ``PROBE_SAMPLES`` samples and one step per phase
    that updates nothing: each phase's model is built for the data, the method's step runs
    (its augmentation, forward and backward passes), then every evaluation runs on the
    untrained result. A model that does not fit the input, a policy that changes the input size,
    a stream the data lacks or an evaluation the method cannot serve fails here, before any run
    trains.

    Returns:
        The run's estimated training seconds: per phase, the seconds of one probe step (timed on a
        second step) scaled to the samples of an epoch (linearly), times its epochs, summed; the
        progress bar weighs runs by it.

    Args:
        spec: the run.
        data: its data (any seed's: sizes and shapes do not depend on it).
        device: the training device.
    """
    device = check_device(device)
    context = MethodContext(data.num_classes, data.input_shape, data.modality)
    method: Method = build_method(spec.method, context)
    check_streams(method, tuple(data.streams), spec.label)
    full = method.prepare_data(data, spec.seed)
    data = _probe_data(full)
    normalize = get_modality(data.modality).fit_normalizer(data.streams["labeled"].inputs).to(device)
    models: dict[str, nn.Module] = {}
    phases = _phases(method, context, spec.label)
    cost = 0.0
    for phase in phases:
        check_streams(phase.method, tuple(data.streams), spec.label)
        _trainer(phase, spec.label)
        _check_view_shapes(phase.method, data.input_shape)
        settings = _settings(spec, phase)
        model_spec = spec.model if phase.model is None else resolve_component("model", phase.model)
        model = _build_model(model_spec, data, spec.seed, device)
        ctx = make_context(phase.method, model, data, settings, seed=spec.seed, device=device,
                           normalize=normalize, models=models)
        if settings.epochs > 0:  # a phase of 0 epochs (the random-encoder floor) takes no step
            cost += _probe_step_cost(phase.method, ctx, model, full, data, settings, device)
        models[phase.name] = phase.method.eval_model(model)
        if phase.evaluations:
            evaluate_all(phase.evaluations, EvalContext(phase.method, models[phase.name], models, data, normalize,
                                                        device, spec.seed))
    final = models[phases[-1].name]
    evaluate_all((*method.evaluations, *spec.evaluations),
                 EvalContext(method, final, models, data, normalize, device, spec.seed))
    return cost


def _probe_step_cost(method: Method, ctx: TrainContext, model: nn.Module, full: RunData, data: RunData,
                     settings: PhaseSettings, device: torch.device) -> float:
    """Take one training step on the probe batch (updating nothing), then time a second one and
    scale it to the phase: its epochs times the samples of one epoch of the full data."""
    ctx.batch = probe_batch(method, data, settings, PROBE_SAMPLES, device)
    model.train()
    method.training_step(ctx.batch, ctx).loss.backward()
    started = time.perf_counter()  # a second step, without first-call overheads, for the cost estimate
    method.training_step(ctx.batch, ctx).loss.backward()
    seconds = time.perf_counter() - started
    probe_samples = sum(len(ctx.batch[name]) for name in ctx.batch)
    return settings.epochs * seconds * _epoch_samples(method, full, settings) / probe_samples


def _epoch_samples(method: Method, data: RunData, settings: PhaseSettings) -> int:
    """Samples one epoch of ``method`` reads over all its streams (steps times each stream's batch)."""
    steps = -(-len(data.streams["labeled"]) // settings.batch_size)
    return steps * sum(step_sizes(method, settings.batch_size, settings.ratio).values())


def _check_view_shapes(method: Method, input_shape: tuple[int, ...]) -> None:
    """One line when a keyed view changes the sample shape the models are built for."""
    for view in method.keyed_views():
        output_shape = getattr(view.transform, "output_shape", None)
        shape = tuple(output_shape(input_shape)) if output_shape is not None else input_shape
        if shape != tuple(input_shape):
            raise ConfigError(
                f"its augmentation makes {view.stream} samples of shape {shape} from the data's {tuple(input_shape)}, "
                f"and the model is built for the data's; give the augmentation the data's size "
                f"(e.g. rrc{input_shape[-1]} instead of rrc{shape[-1]})"
            )


def _probe_data(data: RunData) -> RunData:
    """``data`` with every stream and evaluation split cut to its first ``PROBE_SAMPLES`` samples."""
    def cut(split: Split) -> Split:
        return Split(split.inputs[:PROBE_SAMPLES], split.labels[:PROBE_SAMPLES], split.ids[:PROBE_SAMPLES],
                     split.pool_size)

    return replace(data, streams={name: cut(split) for name, split in data.streams.items()},
                   evals={name: cut(split) for name, split in data.evals.items()})


def _cost(phase_metrics: dict[str, dict[str, float]]) -> dict[str, float]:
    """Run-level cost over all phases: samples per second of training, augmentation share of step time."""
    total = lambda name: sum(m.get(name, 0.0) for m in phase_metrics.values())  # noqa: E731
    step, augmentation, train = total("step_time_s"), total("augmentation_time_s"), total("train_time_s")
    return {
        "train_images_per_s": total("train_samples") / train if train > 0 else 0.0,
        "augmentation_time_fraction": augmentation / step if step > 0 else 0.0,
        "train_time_s": train,
    }
