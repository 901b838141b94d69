"""The ``augbench`` command line: ``augbench run`` trains and compares augmentations."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from augbench.bench.recipes import RECIPES, check_recipe
from augbench.bench.config import RunConfig
from augbench.errors import AugbenchError

__all__ = ["main", "build_parser"]

DEFAULT_DB = "results/augbench.db"


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one name, e.g. baseline,affine")
    return names


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
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be a positive integer")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``augbench`` command."""
    parser = argparse.ArgumentParser(prog="augbench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    defaults = RunConfig()
    run = commands.add_parser(
        "run",
        help="train the harness model with each augmentation over several seeds and compare test accuracy",
        description="Train and compare augmentations on the embedded digits dataset (the cards' small-scale harness).",
    )
    run.add_argument(
        "--augs", type=_names, default=["baseline", "affine", "erasing", "rrc"],
        help=f"comma-separated recipes or policy strings (default: baseline,affine,erasing,rrc; recipes: {', '.join(RECIPES.names())}; "
        "policy strings such as rand-m9-n2, trivialaugment, autoaug-cifar10)",
    )
    run.add_argument("--seeds", type=_seeds, default=[0, 1, 2], help="number of seeds (3) or a list (0,1,2); default 3")
    run.add_argument("--epochs", type=_positive, default=defaults.epochs, help=f"epochs per run (default {defaults.epochs})")
    run.add_argument("--train-size", type=_positive, default=defaults.train_size, help=f"stratified training subset; the rest is the test set (default {defaults.train_size})")
    run.add_argument("--db", default=DEFAULT_DB, help=f"results database: a SQLAlchemy URL or a SQLite path (default {DEFAULT_DB})")
    run.add_argument("--device", default="cpu", help="training device, e.g. cpu or cuda (default cpu)")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def _run(args: argparse.Namespace) -> int:
    from augbench.bench.runner import format_table, run_all, summarize
    from augbench.bench.store import Store

    for name in args.augs:
        check_recipe(name)  # unknown names fail before any training
    configs = [
        RunConfig(method=aug, seed=seed, epochs=args.epochs, train_size=args.train_size)
        for aug in args.augs
        for seed in args.seeds
    ]
    store = Store(args.db)
    try:
        run_all(configs, store, device=args.device, progress=not args.no_progress)
    except KeyboardInterrupt:
        print("\ninterrupted: finished runs are saved; rerun the same command to resume", file=sys.stderr)
        return 130
    title = (
        f"digits, train n={args.train_size}, {args.epochs} epochs, seeds {args.seeds} "
        "(digits are grey and not mirror-symmetric: flips break labels)"
    )
    print(format_table(summarize(configs, store), title))
    print(f"results stored in {args.db}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``augbench`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
    except AugbenchError as error:
        print(f"augbench: error: {error}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
