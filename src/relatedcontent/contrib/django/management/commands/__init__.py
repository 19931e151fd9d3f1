"""``manage.py relatedcontent_build``."""
