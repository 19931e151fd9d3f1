"""Stage 3, vectors: field-weighted TF-IDF rows and the low-rank (LSA) vectors.

Internal: the public names are re-exported by :mod:`relatedcontent`.
"""
