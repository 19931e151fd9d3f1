"""Management commands of the relatedcontent Django app."""
