"""Built-in plugins, registered through the ``pipeline.plugins`` entry points in pyproject.toml
exactly as a third-party package registers its own; the core never imports them by name.

One table per kind lists every built-in component with its settings and a lazy reference to its
implementation: :mod:`plugins.datasets`, :mod:`plugins.families` and :mod:`plugins.tricks`.
"""
