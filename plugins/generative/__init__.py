"""Pieces shared by the generative families (VAEs and single-loss GANs).

Not a plugin itself: it registers nothing. The families' ``family.py`` modules import these, and
:mod:`plugins.families` imports only the torch-free :mod:`plugins.generative.settings`.
"""
