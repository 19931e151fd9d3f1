"""Property-based fuzzing of the HTTP API from its OpenAPI document: no request may give a 5xx.

Schemathesis generates requests that fit the document (positive) and requests
that break it (negative) for every operation of ``/openapi.json`` and sends them
to a real server subprocess on loopback. Examples per operation are bounded and
derandomised, so a run is reproducible and short.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings

from ._server import TOKEN, build_index, require_server_stack, running_server, special_records

require_server_stack()
schemathesis = pytest.importorskip(
    "schemathesis", reason="the fuzz test needs schemathesis: pip install -e '.[test]'"
)
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

EXAMPLES = 15
OPERATIONS = [
    ("GET", "/related/{article_id}"),
    ("GET", "/related/{article_id}.html"),
    ("POST", "/similar"),
    ("GET", "/search"),
    ("GET", "/health"),
    ("GET", "/widget.js"),
    ("GET", "/"),
    ("PUT", "/articles/{article_id}"),
    ("DELETE", "/articles/{article_id}"),
    ("POST", "/articles"),
]


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    from .conftest import COUNCIL

    with COUNCIL.open(encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle][:30]
    index = build_index(records + special_records(), tmp_path_factory.mktemp("fuzz") / "idx")
    with running_server([str(index), "--max-body", "65536"], token=TOKEN) as server:
        yield schemathesis.openapi.from_url(server.base_url + "openapi.json"), server.base_url


def test_the_fuzzed_operations_are_all_of_the_document(api):
    schema, _ = api
    document = {
        (method.upper(), path)
        for path, item in schema.raw_schema["paths"].items()
        for method in item
    }
    assert document == set(OPERATIONS)


#: Operations without any input have no invalid request to generate.
NO_INPUT = {("GET", "/health"), ("GET", "/widget.js")}
CASES = [
    (method, path, mode)
    for method, path in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or (method, path) not in NO_INPUT
]


@pytest.mark.parametrize(("method", "path", "mode"), CASES, ids=lambda v: str(v))
def test_no_request_gives_a_server_error(api, method, path, mode):
    schema, base_url = api
    operation = schema[path][method]
    headers = {"Authorization": f"Bearer {TOKEN}"}  # the fuzzer writes too

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        case.call_and_validate(
            base_url=base_url, headers=headers, checks=[not_a_server_error], timeout=60
        )

    check()
