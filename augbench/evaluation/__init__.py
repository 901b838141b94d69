"""Evaluations: a registry of functions ``(EvalContext) -> (metrics, artifacts)``.

A method declares the evaluations its protocol needs (``Method.evaluations``); an experiment
adds optional ones. Metric names are stable, they are the columns of the report:

================  ==========================================================================
evaluation        metrics (fractions in [0, 1] unless said)
================  ==========================================================================
accuracy          ``test_accuracy``, ``test_nll``, ``test_ece`` (and ``val_*`` with a val split)
calibration       artifact ``reliability`` (15-bin reliability diagram of the test split)
corruption        ``test_corruption_accuracy`` (13 corruptions x 5 severities), artifact
adversarial       ``test_fgsm_accuracy``, ``test_pgd_accuracy`` at 8/255
linear_probe      ``test_linear_probe_accuracy`` (frozen features, fixed-settings linear layer)
linear_probe_n    ``test_linear_probe_accuracy_n{n}`` (+ ``val_*``): the probe on n = 1, 4, 16, 64 labels
                  per class (mean of 5 seeded draws of the labeled stream)
knn               ``test_knn_accuracy`` (k=20, cosine, temperature 0.07 weighted votes)
target_accuracy   ``target_accuracy`` (the target domain's test split)
auroc             ``auroc``: in-distribution test vs the target split as outliers, by the
                  method's anomaly score (default 1 - max softmax probability)
one_class_auroc   ``test_one_class_auroc``, ``test_one_class_knn_auroc`` (+ ``val_*``): one-class
                  protocol (inlier_class), other classes of the test split as anomalies
recall_at_k       ``test_recall_at_1/2/4/8`` (cosine retrieval within the test split)
retrieval         ``test_recall_at_1/2/4/8``, ``test_map_at_r`` (and ``val_*``): cosine retrieval
                  of the method's embedding (``embed``, else ``forward_features``) within a split
ranking           ``test_hr@10``, ``test_ndcg@10`` (item sequences: next item among all items)
average_accuracy  ``average_accuracy``, ``forgetting``: from a continual method's task-accuracy
forgetting        matrix
feature_learning  ``common_correlation``, ``rare_correlation`` (max_r <w_{j,r}, v_j>/||v_j||, mean over
                  classes), ``test_common_accuracy``, ``test_rare_accuracy``: feature_noise data, patch_cnn
active_learning   ``inlier_accuracy`` (last round), ``inlier_accuracy_mean``, ``queried_inlier_rate``,
                  ``pool_inlier_rate``: from an active-learning method's per-round record
================  ==========================================================================
"""

from augbench.evaluation import active as _active  # noqa: F401  (registers)
from augbench.evaluation import classification as _classification  # noqa: F401  (registers)
from augbench.evaluation import continual as _continual  # noqa: F401  (registers)
from augbench.evaluation import representation as _representation  # noqa: F401  (registers)
from augbench.evaluation import ranking as _ranking  # noqa: F401  (registers)
from augbench.evaluation import one_class as _one_class  # noqa: F401  (registers)
from augbench.evaluation import feature_learning as _feature_learning  # noqa: F401  (registers)
from augbench.evaluation.base import EVALUATIONS, EvalContext, EvalResult, evaluate_all, features

__all__ = ["EVALUATIONS", "EvalContext", "EvalResult", "evaluate_all", "features"]
