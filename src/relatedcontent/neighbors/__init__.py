"""Stage 4, neighbours: the exact top-k cosine neighbours of every row of a sparse matrix.

One plan (:mod:`.plan`), two engines (scipy's sparse product in :mod:`.blocks`, the
compiled kernel in :mod:`.kernel`), run by local threads or by Dask workers with
identical results. Knows nothing about text.

Internal: the public names are re-exported by :mod:`relatedcontent`.
"""
