"""Template tags of the relatedcontent Django app (``{% load relatedcontent %}``)."""
