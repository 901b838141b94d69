"""The ``augbench`` command line.

- ``augbench run``: train several methods over seeds (default: the digits harness), print the table.
- ``augbench bench CONFIG``: run an experiment YAML with a local process pool or Ray.
- ``augbench report``: plots and a self-contained ``report.html`` from the results database.
- ``augbench list``: datasets, models, ops, policies, methods, evaluations, optimisers and mixers.
- ``augbench show POLICY --dataset NAME``: a PNG grid of augmented samples.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from augbench.bench.experiment import Experiment
from augbench.bench.spec import RunSpec
from augbench.errors import AugbenchError, ConfigError
from augbench.methods.spec import method_names

__all__ = ["main", "build_parser", "DEFAULT_RUN"]

DEFAULT_DB = "results/augbench.db"
DEFAULT_CACHE = "results/phase-cache"
DEFAULT_RUN = {
    "name": "digits",
    "datasets": ["digits"],
    "models": ["harness_cnn"],
    "methods": ["baseline", "affine", "erasing", "rrc"],
    "seeds": 3,
    "epochs": 60,
    "train_size": 500,
}
"""The experiment ``augbench run`` runs without --config; ``configs/digits.yaml`` holds the same."""


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one name, e.g. baseline,affine")
    return names


def _component(text: str) -> str | dict[str, object]:
    """A registered name, or a YAML flow mapping spec such as ``{type: image_folder, mode: L}``."""
    if not text.lstrip().startswith("{"):
        return text
    import yaml

    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not a YAML mapping ({str(error).splitlines()[0]})") from None
    if not isinstance(spec, dict) or "type" not in spec:
        raise argparse.ArgumentTypeError(f"{text!r}: a spec needs a type, e.g. '{{type: image_folder, mode: L}}'")
    return spec


def _seeds(text: str) -> list[int]:
    """``3`` means seeds 0, 1, 2; ``0,5,7`` lists them."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds {text!r}: give a count (3) or a list (0,1,2)") from None
    if len(values) == 1 and "," not in text:
        if values[0] < 1:
            raise argparse.ArgumentTypeError("--seeds needs a count >= 1")
        return list(range(values[0]))
    return values


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be a positive integer")
    return value


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default=DEFAULT_DB, help=f"results database: a SQLAlchemy URL or a SQLite path (default {DEFAULT_DB})")


def _add_cache(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cache-dir", default=DEFAULT_CACHE,
                        help=f"phase weights cache shared by runs (a teacher trains once; default {DEFAULT_CACHE})")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the phase weights cache")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``augbench`` command."""
    parser = argparse.ArgumentParser(prog="augbench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "run",
        help="train with each augmentation over several seeds and compare test accuracy",
        description="Train and compare augmentations in this process, one run after another (default: the "
        "benchmark's small-scale harness on the embedded digits, the experiment of configs/digits.yaml). "
        "Flags override the --config file.",
    )
    run.add_argument("--config", type=Path, default=None, help="experiment YAML whose settings are the defaults (e.g. configs/digits.yaml)")
    run.add_argument(
        "--methods", "--augs", dest="methods", type=_names, default=None,
        help=f"comma-separated methods, presets or policy strings (default: {','.join(DEFAULT_RUN['methods'])}; "
        "see `augbench list`; policy strings such as rand-m9-n2, trivialaugment, autoaug-cifar10)",
    )
    run.add_argument("--seeds", type=_seeds, default=None, help="number of seeds (3) or a list (0,1,2); default 3")
    run.add_argument("--epochs", type=_positive, default=None, help="epochs per run (default 60)")
    run.add_argument("--train-size", type=_positive, default=None, help="stratified labeled subset (default 500 on digits; all of a dataset with a test split)")
    run.add_argument("--dataset", type=_component, default=None,
                     help="registered dataset or a spec '{type: image_folder, mode: L}' (default digits, embedded); "
                     "replaces the config's datasets and its data sizes")
    run.add_argument("--model", type=_component, default=None,
                     help="registered model or a spec (default: the dataset's default, harness_cnn for digits, auto "
                     "for your own data)")
    run.add_argument("--data-root", default=None, help="folder of the dataset's files (default $AUGBENCH_DATA/<dataset>)")
    _add_db(run)
    _add_cache(run)
    run.add_argument("--threads", type=_positive, default=1,
                     help="torch threads (default 1, as each `bench` worker: the same run gives the same bits either way)")
    run.add_argument("--device", default="cpu", help="training device, e.g. cpu or cuda (default cpu)")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    bench = commands.add_parser("bench", help="run an experiment YAML file", description="Run every (dataset, model, method, seed) of an experiment file.")
    bench.add_argument("config", type=Path, help="experiment YAML file, e.g. configs/digits.yaml")
    _add_db(bench)
    _add_cache(bench)
    bench.add_argument("--executor", choices=("local", "ray"), default="local", help="local process pool (default) or Ray tasks")
    bench.add_argument("--ray-address", default=None, help="Ray cluster address (default: start a local Ray instance)")
    bench.add_argument("--workers", type=_positive, default=None, help="local worker processes (default: cores / threads)")
    bench.add_argument("--threads", type=_positive, default=1, help="torch threads (and Ray CPUs) per run (default 1)")
    bench.add_argument("--device", default="cpu", help="training device of every run (default cpu)")
    bench.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    report = commands.add_parser("report", help="write plots and report.html from the results database")
    _add_db(report)
    report.add_argument("--out", type=Path, default=Path("results/report"), help="output folder (default results/report)")

    listing = commands.add_parser("list", help="list datasets, models, ops, policies, methods, evaluations and mixers")
    listing.add_argument("section", nargs="?", choices=_LIST_SECTIONS, default=None,
                         help="one section, one name per line (`augbench list methods`: what --methods accepts)")
    listing.add_argument("--modality", default=None,
                         help="with `ops`: the policy ops of this modality and their level ranges (default image)")

    show = commands.add_parser("show", help="write a PNG grid of augmented samples")
    show.add_argument("policy", type=_component,
                      help="a policy string (rand-m9-n2, rrc32-hflip), a transform spec ('{type: RandomAffine, "
                      "degrees: 30}'), a mixer (cutmix, '{type: mixup, alpha: 0.4}') or a preset (affine, mixup)")
    show.add_argument("--dataset", type=_component, default="digits",
                      help="dataset to take class-balanced samples from (default digits)")
    show.add_argument("--data-root", default=None, help="folder of the dataset's files")
    show.add_argument("--out", type=Path, default=None, help="PNG path (default results/show-<policy>-<dataset>.png)")
    show.add_argument("--samples", type=_positive, default=8, help="rows (default 8)")
    show.add_argument("--views", type=_positive, default=6, help="augmented views per row (default 6)")
    show.add_argument("--seed", type=int, default=0, help="seed of the draws (default 0)")
    return parser


def _run_experiment(args: argparse.Namespace) -> Experiment:
    """The experiment of ``augbench run``: the --config file (or the built-in digits default) with the flags on top."""
    from augbench.bench.experiment import check_experiment, load_experiment, parse_experiment, parse_methods
    from augbench.data.streams import DataSpec

    experiment = load_experiment(args.config) if args.config else parse_experiment(DEFAULT_RUN)
    data = DataSpec() if args.dataset else experiment.data  # the config's sizes belong to its own dataset
    if args.train_size is not None:
        data = replace(data, train_size=args.train_size)
    changed = replace(
        experiment,
        datasets=(args.dataset,) if args.dataset else experiment.datasets,
        models=(args.model,) if args.model else (None if args.dataset else experiment.models),
        methods=parse_methods(args.methods) if args.methods else experiment.methods,
        seeds=tuple(args.seeds) if args.seeds else experiment.seeds,
        epochs=args.epochs if args.epochs is not None else experiment.epochs,
        data=data,
        data_root=args.data_root or experiment.data_root,
    )
    check_experiment(changed)
    return changed


def _cache_dir(args: argparse.Namespace) -> str | None:
    return None if args.no_cache else args.cache_dir


def _title(experiment: Experiment, specs: list[RunSpec]) -> str:
    first = specs[0]
    if first.data.labeled_per_class is not None:
        size = f"{first.data.labeled_per_class} labels/class"
    else:
        size = f"train n={first.data.train_size}" if first.data.train_size else "all training samples"
    title = f"{first.dataset_name}/{first.model_name}, {size}, {first.epochs} epochs, seeds {list(experiment.seeds)}"
    if first.dataset_name == "digits" and first.data.labeled_per_class is None and first.data.target is None:
        title += " (digits are grey and not mirror-symmetric: colour ops are no-ops, flips break labels)"
    return title


def _run(args: argparse.Namespace) -> int:
    from augbench.bench.runner import format_table, run_all, summarize
    from augbench.bench.store import Store

    import torch

    from augbench.bench.preflight import check_runs

    experiment = _run_experiment(args)
    specs = experiment.runs()
    torch.set_num_threads(args.threads)
    costs = check_runs(specs, args.device)
    store = Store(args.db)
    try:
        summary = run_all(specs, store, device=args.device, cache_dir=_cache_dir(args), progress=not args.no_progress,
                          costs=costs)
    except KeyboardInterrupt:
        print("\ninterrupted: finished runs and phases are saved; rerun the same command to resume", file=sys.stderr)
        return 130
    print(format_table(summarize(specs, store, experiment.metric), _title(experiment, specs), _metric_title(experiment.metric)))
    if summary.failed:
        print(f"{len(summary.failed)} run(s) failed (reported above); finished runs are saved", file=sys.stderr)
    print(f"results stored in {args.db}")
    return 1 if summary.failed else 0


def _metric_title(metric: str) -> str:
    return metric.replace("_", " ") + (" (%)" if metric.endswith("accuracy") or metric == "auroc" else " (x100)")


def _bench(args: argparse.Namespace) -> int:
    from augbench.bench.executors import build_executor
    from augbench.bench.experiment import load_experiment
    from augbench.bench.preflight import check_runs
    from augbench.bench.runner import format_table, run_all, summarize
    from augbench.bench.store import Store

    experiment = load_experiment(args.config)
    specs = experiment.runs()
    costs = check_runs(specs, args.device)
    executor = build_executor(args.executor, workers=args.workers, threads=args.threads,
                              ray_address=args.ray_address, device=args.device, cache_dir=_cache_dir(args))
    store = Store(args.db)
    try:
        summary = run_all(specs, store, executor=executor, progress=not args.no_progress, costs=costs)
    except KeyboardInterrupt:
        print("\ninterrupted: finished runs and phases are saved; rerun the same command to resume", file=sys.stderr)
        return 130
    print(format_table(summarize(specs, store, experiment.metric), f"experiment {experiment.name}: {len(specs)} runs",
                       _metric_title(experiment.metric)))
    if summary.failed:
        print(f"{len(summary.failed)} run(s) failed (reported above); finished runs are saved", file=sys.stderr)
    print(f"results stored in {args.db}; write plots with: augbench report --db {args.db}")
    return 1 if summary.failed else 0


def _report(args: argparse.Namespace) -> int:
    from augbench.bench.report import write_report
    from augbench.bench.store import Store

    path = write_report(Store(args.db, create=False), args.out)
    print(f"report written to {path}")
    return 0


_LIST_SECTIONS = ("datasets", "models", "kernels", "ops", "policies", "methods", "evaluations", "optimizers",
                  "schedules", "modalities", "mixers")


def _list(args: argparse.Namespace) -> int:
    import augbench.functional as F
    from augbench.data import DATASETS
    from augbench.evaluation import EVALUATIONS
    from augbench.methods import presets
    from augbench.mix import MIXERS
    from augbench.modalities import MODALITIES
    from augbench.models import MODELS
    from augbench.policies import OPS
    from augbench.policies.strings import ELEMENTS
    from augbench.train.optim import OPTIMIZERS, SCHEDULES

    sections = {
        "datasets": ("datasets", DATASETS.names()),
        "models": ("models", MODELS.names()),
        "kernels": ("kernels (augbench.functional)",
                    sorted(name for name in F.__all__ if inspect.isfunction(getattr(F, name)))),
        "ops": ("policy ops", sorted(OPS)),
        "policies": ("policy-string elements", [grammar.example or name for name, grammar in ELEMENTS.items()]),
        "methods": ("methods (--methods: presets and registered methods, besides policy strings)", method_names()),
        "evaluations": ("evaluations", EVALUATIONS.names()),
        "optimizers": ("optimizers", OPTIMIZERS.names()),
        "schedules": ("schedules", SCHEDULES.names()),
        "modalities": ("modalities", MODALITIES.names()),
        "mixers": ("mixers", MIXERS.names()),
    }
    if args.modality is not None:
        if args.section != "ops":
            raise ConfigError("--modality goes with `augbench list ops`, e.g. augbench list ops --modality timeseries")
        from augbench.policies.modal import list_ops

        print("\n".join(f"{name}  ({description})" if description else name for name, description in list_ops(args.modality)))
        return 0
    if args.section is not None:
        names = sections[args.section][1]
        if args.section == "methods":  # say what each name is
            names = [f"{name}  (preset of {presets()[name]['type']})" if name in presets() else f"{name}  (method)"
                     for name in names]
        print("\n".join(names))
        return 0
    for title, names in sections.values():
        print(f"{title}:\n  " + ", ".join(names))
    return 0


def _show(args: argparse.Namespace) -> int:
    from augbench.bench.show import write_grid

    def safe(spec: object) -> str:
        text = spec if isinstance(spec, str) else "-".join(str(value) for value in spec.values())  # type: ignore[attr-defined]
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)

    out = args.out or Path("results") / f"show-{safe(args.policy)}-{safe(args.dataset)}.png"
    path = write_grid(args.policy, args.dataset, out, samples=args.samples, views=args.views,
                      data_root=args.data_root, seed=args.seed)
    print(f"wrote {path}")
    return 0


_COMMANDS = {"run": _run, "bench": _bench, "report": _report, "list": _list, "show": _show}


def _show_warning(message: Warning | str, category: type[Warning], *_: object, **__: object) -> None:
    """Warnings as one line each (``augbench: warning: ...``), not Python's two-line form."""
    print(f"augbench: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``augbench`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return _COMMANDS[args.command](args)
    except AugbenchError as error:
        print(f"augbench: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
