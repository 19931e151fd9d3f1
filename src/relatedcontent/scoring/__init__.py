"""Stage 5, score and lists: the pair score, list order and ties, editorial controls.

:mod:`.score` is the one home of the score's formula; the other modules apply it.

Internal: the public names are re-exported by :mod:`relatedcontent`.
"""
