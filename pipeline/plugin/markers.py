"""The plugin namespace and the two markers plugins use: ``hookspec`` (the core) and ``hookimpl``
(plugins)."""

import pluggy

PROJECT = "pipeline"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
