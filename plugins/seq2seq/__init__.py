"""Model family ``seq2seq``: title generation, a BiLSTM encoder over the article's characters and
an LSTM decoder with conditional LayerNorm and attention, decoded by beam search; its spec is in
:mod:`plugins.families`."""
