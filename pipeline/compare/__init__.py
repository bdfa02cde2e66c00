"""Comparisons over seeds: does a variant (a trick, a setting) beat the reference, or is it noise?

``pipeline compare SPEC`` runs every variant of ``conf/compare/SPEC.yaml`` on the same seeds through
the train and evaluate stages, in parallel workers sharing one Optuna storage, resumable after a
kill, and reports each variant's mean with a t interval and its paired difference from the
reference with a paired t-test, Holm-corrected (``comparisons/<name>/summary.json``, a plot,
MLflow).
"""
