"""Model family ``pplm``: plug-and-play control of an unconditional language model by an attribute
classifier's gradient on its hidden state at generation time; its spec is in
:mod:`plugins.families`."""
