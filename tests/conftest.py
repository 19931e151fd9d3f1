"""Shared fixtures: seeded randomness, small corpora, the shared data folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

# The database fixtures (db_url, sqlite_url, postgres_url, mysql_url), for every test module.
from ._databases import _postgres_database, db_url, mysql_url, postgres_url, sqlite_url  # noqa: F401

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
COUNCIL = (
    Path(__file__).resolve().parents[1] / "src" / "relatedcontent" / "data" / "council_news.jsonl"
)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261128)


@pytest.fixture
def council_path() -> Path:
    return COUNCIL


@pytest.fixture
def council_records() -> list[dict]:
    with COUNCIL.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


@pytest.fixture
def tiny_corpus() -> list[dict]:
    return [
        {
            "id": 1,
            "title": "Bin collections change at Christmas",
            "body": "Bins will be collected a day late over Christmas.",
        },
        {
            "id": 2,
            "title": "Garden waste bins",
            "body": "Garden waste bins are collected every fortnight.",
        },
        {
            "id": 3,
            "title": "School term dates agreed",
            "body": "Term dates for schools next year are agreed.",
        },
        {
            "id": 4,
            "title": "New primary school opens",
            "body": "A new primary school opens for the autumn term.",
        },
        {
            "id": 5,
            "title": "Pothole repairs",
            "body": "Road crews repair potholes on the high street.",
        },
        {
            "id": 6,
            "title": "Roadworks on the ring road",
            "body": "Roadworks close the ring road at night; potholes fixed.",
        },
        {
            "id": 7,
            "title": "Register to vote",
            "body": "Register to vote before the election deadline.",
        },
        {
            "id": 8,
            "title": "Polling stations for the election",
            "body": "Find your polling station for the election.",
        },
        {
            "id": 9,
            "title": "Summer festival",
            "body": "The summer festival returns to the park with music.",
        },
        {
            "id": 10,
            "title": "Park improvements",
            "body": "The park gets a new playground before the summer festival.",
        },
    ]


def shared_file(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"shared evaluation data not available ({path} is absent)")
    return path
