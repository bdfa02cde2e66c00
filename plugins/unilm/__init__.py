"""Model family ``unilm``: seq2seq by masks (UniLM), one Transformer reading ``[article, title]``
with the article bidirectional and the title causal, decoded by beam search; its spec is in
:mod:`plugins.families`."""
