"""The one exception type for mistakes a user can make: the CLI prints its message and exits
non-zero."""


class PipelineError(Exception):
    """A user-facing error: one sentence naming the bad value and what would be valid."""
