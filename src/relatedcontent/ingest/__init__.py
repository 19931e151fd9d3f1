"""Stage 1, articles in: the Article type, ids, field mapping, files and SQL queries.

Internal: the public names are re-exported by :mod:`relatedcontent`.
"""
