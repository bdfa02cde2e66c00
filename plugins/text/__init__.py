"""Text datasets: the standard library's docstrings, generated languages with known structure, and
the user's own TSV files, each encoded with a character vocabulary built in prepare."""
