"""The floor of representation benchmarks: a randomly initialised, frozen encoder.

Self-supervised papers report it as the control (e.g. Chen et al., "A Simple Framework for
Contrastive Learning of Visual Representations", ICML 2020): a linear probe on the SSL-trained
encoder must beat a probe on a randomly initialised network by a clear margin, or the
contrastive training is broken.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from torch import Tensor, nn

from augbench.errors import ConfigError
from augbench.methods.base import METHODS, Method, Phase

if TYPE_CHECKING:
    from augbench.methods.spec import MethodContext

__all__ = ["Untrained"]


@METHODS.register("untrained")
class Untrained(Method):
    """The run's model at its seeded random initialisation, evaluated without any training.

    One phase, ``init``, with ``epochs=0``: the phase loop builds the model (initialised from
    the run's seed, exactly as every other method's model is) and takes no optimiser step, so
    no parameter and no batch-norm statistic moves, whatever the run's ``epochs``. The
    protocol's evaluations, ``linear_probe`` and ``knn``, then read ``forward_features`` of this
    frozen encoder. In an experiment it is the row that ``simclr`` (or any SSL method) must
    beat with the same model.

    The method has no options and never runs a training step.
    """

    evaluations = ("linear_probe", "knn")

    def phases(self, context: MethodContext) -> list[Phase]:
        """One ``init`` phase of zero epochs."""
        return [Phase("init", self, self.spec, epochs=0)]

    def predict(self, model: nn.Module, inputs: Tensor, normalize: Callable[[Tensor], Tensor]) -> Tensor:
        """Refused: the classifier head is random."""
        raise ConfigError(
            "untrained has a random classifier head; evaluate it with linear_probe or knn "
            "(set the experiment's evaluations: [linear_probe, knn])"
        )
