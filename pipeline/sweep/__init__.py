"""Hyperparameter sweeps with Optuna: every trial runs the pipeline's own train and evaluate stages.

``pipeline sweep SPACE`` searches ``conf/sweep/SPACE.yaml`` in a study any number of workers share
(SQLite under ``optuna/``, or a database), one MLflow child run per trial under a parent run; it
prunes hopeless trials, resumes after a crash, and can write the best trial into params.yaml.
"""
