"""Stage 6, the fitted index: everything a fit produces, its incremental changes, save and load.

Internal: the public names are re-exported by :mod:`relatedcontent`.
"""
