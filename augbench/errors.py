"""The exception family of augbench.

Every user mistake is raised at the public boundary as one of these, with a one-line message
that says what is wrong, the value seen and how to fix it. They subclass the built-in
``ValueError``/``TypeError``, so ``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = ["AugbenchError", "InputValueError", "InputTypeError", "ConfigError", "DataError"]


class AugbenchError(Exception):
    """Base class of every error augbench raises on purpose."""


class InputValueError(AugbenchError, ValueError):
    """A tensor or argument has the right type but a wrong value, shape or range."""


class InputTypeError(AugbenchError, TypeError):
    """A tensor or argument has the wrong type or dtype."""


class ConfigError(AugbenchError, ValueError):
    """An experiment option, registry name or config key is invalid."""


class DataError(AugbenchError, ValueError):
    """A dataset file is missing, corrupt or in an unexpected format."""
