"""Version of relatedcontent (one place, read by the package and the saved index)."""

__version__ = "0.1.0"
