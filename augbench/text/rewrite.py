"""The rewrite seam: sentence-level rewriters (back-translation, LLM paraphrases) by name.

A *rewriter* is a callable ``list[str] -> list[str]`` returning one sentence per input sentence,
in order; :class:`~augbench.transforms.text.TextRewrite` decodes a batch of ids with its
vocabulary, calls the rewriter once per batch and encodes the answers back. :data:`REWRITERS`
holds *factories* ``(**options) -> rewriter``, so a YAML spec names one with its options
(``rewriter: {type: back_translation, pivot: de}``) and the transform serialises as plain data.

Only ``identity`` ships here. A generative backend (back-translation as in UDA, Xie et al. 2020;
an LLM paraphraser as in LLM-TTA) registers its factory with ``@REWRITERS.register(name)``; it
owns its model, batching and sampling seed (a rewriter is called with sentences only, so a
random one must be seeded from its own options to be reproducible).
"""

from __future__ import annotations

from collections.abc import Callable

from augbench.registry import Registry

__all__ = ["Rewriter", "REWRITERS", "identity_rewriter"]

Rewriter = Callable[[list[str]], list[str]]
"""``sentences -> rewritten sentences``, one per input, in order."""

REWRITERS: Registry[Rewriter] = Registry("rewriter")
"""Rewriter factories by name: ``REWRITERS.build("identity")`` returns a rewriter."""


@REWRITERS.register("identity")
def identity_rewriter() -> Rewriter:
    """The rewriter that returns its sentences unchanged (the seam's reference and test)."""
    return list
