"""Deep INFOMAX: an encoder trained without labels by maximising the mutual information between an
image and its code, globally and at every location of a feature map, while the codes match a
prior ("深度学习的互信息:无监督提取特征"; why the loss has these parts:
"变分自编码器 = 最小化先验分布 + 最大化互信息").

Registered with the other built-in families in ``plugins/families.py``; ``load`` is a lazy
reference to ``family.py``.
"""
