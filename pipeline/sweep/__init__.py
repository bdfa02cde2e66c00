"""Hyperparameter sweeps with Optuna: every trial runs the pipeline's own train and evaluate stages.

``pipeline sweep SPACE`` reads a search space (``conf/sweep/*.yaml``), keeps the study in an
SQLite file under ``optuna/`` (or a shared database), records one MLflow parent run with one
child run per trial, prunes hopeless trials after each validation, resumes after a crash, and
can write the best trial back into params.yaml.
"""
