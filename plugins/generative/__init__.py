"""Pieces shared by the generative families (VAEs and single-loss GANs).

Not a plugin itself: it registers nothing. The family packages beside it import these modules
lazily from their ``family.py``, so registration stays free of torch.
"""
