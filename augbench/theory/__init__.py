"""Theory checks: quantities that depend on the augmentation alone, and tests of a theory's predictions.

:mod:`augbench.theory.rkhs` estimates the augmentation complexity kappa of Zhai et al.'s RKHS view
of augmentation-based self-supervised learning (``augmentation_kappa``) and tests the predictions
of that view on a sweep stored by ``augbench bench`` (``python -m augbench.theory.rkhs``). The
package imports nothing itself, so ``python -m augbench.theory.rkhs`` runs the module once.
"""
