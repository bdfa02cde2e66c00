"""Model family ``classifier``: Dense(hidden, relu) → Dense(classes, softmax); its spec is in
:mod:`plugins.families`."""
