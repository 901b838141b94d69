"""Optional dependencies: the engine needs torch, numpy and PyYAML; the rest come in extras.

``pip install augbench`` installs the engine (kernels, transforms, policies, mixers, methods);
the benchmark, its data loaders, database, statistics, plots and progress bars need the
``bench`` extra, a PostgreSQL store ``postgres``, the Ray executor ``ray``. A module that needs
an extra imports it inside ``try`` and raises :func:`missing_extra` on failure, so the error is
one line naming the extra to install.
"""

from __future__ import annotations

from augbench.errors import AugbenchError

__all__ = ["EXTRAS", "MissingExtraError", "missing_extra"]

EXTRAS = {
    "sqlalchemy": "bench",
    "scipy": "bench",
    "sklearn": "bench",
    "tqdm": "bench",
    "matplotlib": "bench",
    "PIL": "bench",
    "psycopg": "postgres",
    "ray": "ray",
}
"""Top-level module name -> the extra that installs it."""


class MissingExtraError(AugbenchError, ImportError):
    """An optional dependency is not installed; the message names the extra."""


def missing_extra(error: ImportError, purpose: str) -> ImportError:
    """The one-line error for ``error`` (raised importing an optional module) while loading
    ``purpose``: a :class:`MissingExtraError` naming the extra, or ``error`` itself when the
    missing module is not an optional dependency (a real bug must not be disguised)."""
    name = (getattr(error, "name", None) or "").split(".")[0]
    extra = EXTRAS.get(name)
    if extra is None:
        return error
    return MissingExtraError(f"{purpose} needs {name!r}, which comes with the '{extra}' extra: "
                             f"pip install 'augbench[{extra}]'")
