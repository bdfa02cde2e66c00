"""Built-in plugins. Each is registered through the ``pipeline.plugins`` entry points in pyproject.toml,
exactly as a third-party package registers its own; the core never imports them by name."""
