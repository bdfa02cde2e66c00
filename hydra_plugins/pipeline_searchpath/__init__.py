"""Hydra finds this module through the ``hydra_plugins`` namespace: it adds the installed pipeline
plugins' config groups after the project's ``conf/``, whose files win for the same name."""

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin


class PipelinePluginsSearchPath(SearchPathPlugin):
    """Appends the generated folder of every installed component's defaults."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        from pipeline.params.hydra_groups import plugin_conf_dir

        search_path.append("pipeline-plugins", f"file://{plugin_conf_dir()}")
