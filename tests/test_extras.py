"""The engine works without the extras; a missing extra is one line naming it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from augbench.extras import EXTRAS


def _python(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter in which every optional dependency fails to import."""
    blocked = "".join(f"sys.modules[{name!r}] = None\n" for name in EXTRAS)
    return subprocess.run([sys.executable, "-c", f"import sys\n{blocked}{textwrap.dedent(code)}"],
                          capture_output=True, text=True, timeout=120)


def test_the_engine_needs_no_extra() -> None:
    done = _python("""
        import torch, augbench
        from augbench.methods import MethodContext, build_method
        images = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8)
        augbench.policy("rand-m9-n2")(images, keys=torch.arange(4), seed=0)
        augbench.mix.Mixup(10)(images, torch.arange(4))
        build_method("fixmatch", MethodContext(10, (3, 16, 16)))
        print("ok")
    """)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


@pytest.mark.parametrize("argv", [["run", "--seeds", "1"], ["report"]])
def test_a_missing_extra_is_one_line_naming_it(argv: list[str]) -> None:
    done = _python(f"""
        from augbench.cli import main
        sys.exit(main({argv!r}))
    """)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "pip install 'augbench[bench]'" in done.stderr, done.stderr
