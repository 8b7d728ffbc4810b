"""schemathesis against the server's own /openapi.json (fetched with a key, as clients must): for
every operation, generated requests never get a 5xx, and responses match their declared schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_helpers import Api
from hypothesis import HealthCheck, given, settings

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402


@pytest.fixture
def store_url(tmp_path: Path) -> str:  # SQLite: the schema is the same whatever the store
    return f"sqlite:///{tmp_path / 'railguard.db'}"


def test_no_operation_answers_5xx_or_off_schema(api: Api) -> None:
    raw = api.call("GET", "/openapi.json", role="admin").json()
    schema = schemathesis.openapi.from_dict(raw)
    headers = {"Authorization": f"Bearer {api.server.key}"}  # an admin of every tenant reaches every route
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:

        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        )
        @given(case=operation.as_strategy())
        def check(case: object) -> None:
            response = case.call(base_url=api.url, headers=headers, timeout=30)  # type: ignore[attr-defined]
            case.validate_response(  # type: ignore[attr-defined]
                response, checks=[not_a_server_error, response_schema_conformance]
            )

        check()
