"""Model family ``on_lstm``: an ON-LSTM character language model whose master forget gates induce
trees; its spec is in :mod:`plugins.families`."""
