"""The plugin contract (hook specs and their spec types), the settings schema, the registry."""
