"""Stage 2, text: HTML to plain text, teasers, and site boilerplate left out of similarity.

Internal: the public names are re-exported by :mod:`relatedcontent`.
"""
