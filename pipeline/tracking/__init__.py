"""MLflow tracking: one run per pipeline execution, metrics written in the background."""
