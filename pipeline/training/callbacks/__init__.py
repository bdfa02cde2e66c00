"""The pipeline's own Lightning callbacks, one per file."""
