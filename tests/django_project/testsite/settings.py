"""Settings of the test project; RELATEDCONTENT comes from the README's Django snippet.

Environment: RC_TEST_BASE_DIR (folder for the index; default a new temporary
folder) and RC_TEST_DATABASE_URL (a postgresql://user@host:port/db URL to test
against PostgreSQL; default SQLite).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

BASE_DIR = Path(os.environ.get("RC_TEST_BASE_DIR") or tempfile.mkdtemp(prefix="rc-django-"))
README = Path(__file__).resolve().parents[3] / "README.md"

SECRET_KEY = "test-only-not-secret"  # noqa: S105
DEBUG = False
USE_TZ = True
ROOT_URLCONF = "testsite.urls"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = ["django.contrib.contenttypes", "blog"]
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]

_url = os.environ.get("RC_TEST_DATABASE_URL")
if _url:
    _parts = urlsplit(_url)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _parts.path.lstrip("/") or "postgres",
            "USER": unquote(_parts.username or ""),
            "PASSWORD": unquote(_parts.password or ""),
            "HOST": _parts.hostname or "",
            "PORT": str(_parts.port or ""),
            "TEST": {"NAME": f"test_relatedcontent_{os.getpid()}"},
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(BASE_DIR / "site.sqlite3"),
            "TEST": {"NAME": str(BASE_DIR / "test.sqlite3")},  # a real database file, not :memory:
        }
    }

# The README's settings snippet, executed as written: the README is what is tested.
_snippet = re.search(
    r"<!-- django-settings -->\s*```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S
)
if _snippet is None:
    raise RuntimeError("README.md has no <!-- django-settings --> python block")
exec(_snippet.group(1))  # noqa: S102 - our own README
