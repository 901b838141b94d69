"""``python -m augbench.native``: build every compiled kernel now (the install step runs this).

Prints one line per library; exits 0 even when a build fails, since every kernel has a torch
fallback (the line says why it failed).
"""

from __future__ import annotations

from augbench.native import SOURCES, build


def main() -> None:
    for name in SOURCES:
        try:
            print(f"augbench.native: {name} -> {build(name)}")
        except (RuntimeError, OSError) as error:
            print(f"augbench.native: {name} not built, the torch kernels will be used: {error}")


if __name__ == "__main__":
    main()
