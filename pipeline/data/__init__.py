"""Data: the plain types datasets return, the prepared split, shards, vocabularies and batches."""
