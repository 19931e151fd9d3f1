"""Minimal Django project for testing relatedcontent.contrib.django."""
