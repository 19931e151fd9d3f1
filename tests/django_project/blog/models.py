"""Posts with many-to-many tags, like a typical blog or Wagtail page model."""

from __future__ import annotations

from django.db import models


class Tag(models.Model):
    name = models.CharField(max_length=100, unique=True)

    class Meta:
        app_label = "blog"

    def __str__(self) -> str:
        return self.name


class Post(models.Model):
    title = models.CharField(max_length=300, blank=True, default="")
    slug = models.SlugField(max_length=200, unique=True)
    body = models.TextField(blank=True, default="")
    published = models.BooleanField(default=True)
    tags = models.ManyToManyField(Tag, blank=True)

    class Meta:
        app_label = "blog"

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return f"/posts/{self.slug}/"
