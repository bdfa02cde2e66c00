"""params.yaml: read, validated against the components' settings, turned into Hydra groups."""
