"""Model family ``cln_lm``: a causal Transformer language model conditioned on a label through its
LayerNorms (softmax or linear attention); its spec is in :mod:`plugins.families`."""
