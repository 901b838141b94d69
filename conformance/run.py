"""Conformance report: augbench against torchvision, Pillow and timm on real images (``make conformance``).

Sections: the kernels of ``augbench.functional`` that torchvision also has, called with
torchvision's signature and compared with ``torchvision.transforms.v2.functional`` and Pillow
(plus edge inputs and per-sample parameters); then timm's policy strings, compared with timm's
own parser. Prints every table, a summary of rows per status and a digest of the rows that
differ or are refused. The exit status is 0 whatever the rows say (this is a report); it is
non-zero only when the suite itself fails.

Usage::

    .venv-peers/bin/python conformance/run.py [--data FOLDER] [--images N] [--json PATH]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import platform
import subprocess
import time
from pathlib import Path

import torch

from images import default_data_folder, input_shapes, load_cifar10
from kernels import kernel_tables
from policies import mapping_table, policy_tables
from report import print_digest, print_summary, print_table, save_json

PACKAGES = ("augbench", "torch", "torchvision", "timm", "pillow", "numpy")


def environment() -> dict[str, str]:
    """Package versions, the augbench commit and the machine, for the report's header."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    root = Path(__file__).resolve().parents[1]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=False).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "augbench"], cwd=root, capture_output=True, text=True, check=False
    ).stdout.strip()
    versions["augbench commit"] = f"{commit or 'unknown'}{' + uncommitted changes to augbench/' if dirty else ''}"
    versions["python"] = platform.python_version()
    versions["torch threads"] = str(torch.get_num_threads())
    return versions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=default_data_folder(), help="folder with CIFAR-10's data_batch_1.bin")
    parser.add_argument("--images", type=int, default=64, help="number of CIFAR-10 images (default 64)")
    parser.add_argument("--json", type=Path, default=None, help="also save every row and figure as JSON here")
    options = parser.parse_args()

    start = time.perf_counter()
    info = environment()
    print("augbench conformance: " + ", ".join(f"{name} {version}" for name, version in info.items()))
    images = load_cifar10(options.data, options.images)
    print(f"images: the first {options.images} training images of {options.data / 'data_batch_1.bin'}")
    tables = kernel_tables(input_shapes(images))
    mapping = mapping_table()
    policies = policy_tables(images)
    everything = [*tables, mapping, *policies]
    for table in everything:
        print_table(table)
    print_summary(everything)
    print_digest(everything)
    if options.json is not None:
        save_json(options.json, everything, info)
        print(f"\nsaved {options.json}")
    print(f"\nconformance report done in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
