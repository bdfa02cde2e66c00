"""Pieces shared by the sequence families (``cln_lm``, ``seq2seq``, ``on_lstm``).

Not a plugin itself: it registers nothing. The families' modules import these.
"""
