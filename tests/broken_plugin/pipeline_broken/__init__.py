"""A plugin distribution with one working entry point (``ring``) and one that fails to import
(``spiral``)."""
