"""Every Python example in the README runs as written."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_examples() -> None:
    assert BLOCKS


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index: int) -> None:
    exec(compile(BLOCKS[index], f"README.md python block {index}", "exec"), {})


COMMANDS = [
    shlex.split(line, comments=True)[1:]
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
    for line in block.splitlines()
    if line.startswith("augbench ")
]


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_readme_commands_parse(argv: list[str]) -> None:
    """CLI examples are valid invocations (the tiny end-to-end run is in tests/bench/test_cli.py)."""
    from augbench.cli import build_parser
    from augbench.methods.spec import expand_method

    args = build_parser().parse_args(argv)
    for name in getattr(args, "methods", None) or []:
        expand_method(name)


YAML_BLOCKS = re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_experiment_example_parses_and_its_data_root_is_relative_to_the_file(tmp_path: Path) -> None:
    """The README's experiment file, saved in a ``configs/`` folder as the Paths paragraph says,
    finds ``shared/data/mnist`` beside the checkout; ``--data-root`` is relative to the cwd."""
    import yaml

    from augbench.bench.experiment import load_experiment
    from augbench.cli import build_parser

    (block,) = [text for text in YAML_BLOCKS if "data_root" in text]
    checkout = tmp_path / "augbench"
    (checkout / "configs").mkdir(parents=True)
    path = checkout / "configs" / "example.yaml"
    path.write_text(block)
    experiment = load_experiment(path)
    assert yaml.safe_load(block)["data_root"] == "../../shared/data/mnist"
    assert Path(experiment.data_root) == (tmp_path / "shared" / "data" / "mnist").resolve()
    assert len(experiment.runs()) == len(experiment.methods) * len(experiment.seeds)
    args = build_parser().parse_args(["run", "--dataset", "mnist", "--data-root", "../shared/data/mnist"])
    assert args.data_root == "../shared/data/mnist"  # taken as given: relative to the current directory
