"""Database and ORM values -> JSON-ready values.

Rows from SQL drivers and Django model fields hold ``Decimal``, ``datetime``,
``UUID``, ``bytes`` and so on. An index keeps every unmapped field with its
article and saves it as JSON, so such values are converted once, when they are
read: dates and times to ISO 8601 strings, integral decimals to ``int`` and
other decimals to ``float``, UUIDs to their string, bytes to UTF-8 text.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import math
import uuid
from collections.abc import Mapping
from typing import Any

__all__ = ["jsonable"]


def jsonable(value: Any) -> Any:
    """Return ``value`` as a JSON-ready value.

    Parameters
    ----------
    value : object
        A value read from a database row or a model field.

    Returns
    -------
    object
        ``None``, ``bool``, ``int``, ``float``, ``str``, or a list or dict of
        those.

    Raises
    ------
    TypeError
        If the value has no JSON form (e.g. bytes that are not UTF-8); the
        caller names the column.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            msg = (
                "binary data that is not UTF-8 text; leave this column out of the query "
                "or cast it to text"
            )
            raise TypeError(msg) from None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [jsonable(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    msg = f"a {type(value).__name__} value, which has no JSON form; cast it to text in the query"
    raise TypeError(msg)
