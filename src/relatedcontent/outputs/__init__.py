"""Stage 7, outputs: every stored list with its article data, to files and SQL tables.

Internal: the public names are re-exported by :mod:`relatedcontent`.
"""
