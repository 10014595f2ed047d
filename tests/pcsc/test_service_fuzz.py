"""Fuzz the service's OpenAPI document with schemathesis, against a real `sscard serve` on
pcscd + vpcd with a card in a reader: bounded examples, and not one server error (5xx other
than the documented card/PC/SC answers), undocumented status or non-conforming body.

/v1/events is left out: a valid request is an endless stream (tested in test_service_api)."""

from __future__ import annotations

from service_stack import require_service_dependencies

require_service_dependencies()

import pytest  # noqa: E402
import schemathesis  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,  # noqa: E402
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from service_stack import Service, Slots  # noqa: E402


@pytest.fixture(scope="module")
def service(daemon):
    svc = Service(daemon, "--keys", "test", "--allow-bank-records").start()
    slots = Slots(daemon)
    slots.insert("gen2")
    yield svc
    slots.remove_all()
    assert svc.stop() == 0
    log = svc.log()
    assert "internal error" not in log and "Traceback" not in log, log
    svc.cleanup()


EXAMPLES = 40  # per operation and mode: bounded (about 400 requests in all)


def _documented_card_answer(response) -> bool:
    """502/503/504 are documented answers about the card or PC/SC, not server errors."""
    return response.status_code in (502, 503, 504) and "error" in response.json()


def test_openapi_fuzz(service):
    from hypothesis import given

    schema = schemathesis.openapi.from_url(f"{service.base}/openapi.json").exclude(
        path="/v1/events"
    )
    calls = {"count": 0, "statuses": set()}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} == {
        "/v1/health",
        "/v1/readers",
        "/v1/identity",
        "/v1/status",
    }
    for operation in operations:
        for mode in GenerationMode:
            if mode is GenerationMode.NEGATIVE and not len(operation.query):
                continue  # nothing to get wrong in a request without parameters

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def check(case):
                response = case.call(base_url=service.base, timeout=30)
                calls["count"] += 1
                calls["statuses"].add(response.status_code)
                assert response.status_code < 500 or _documented_card_answer(response), (
                    response.text
                )
                checks = [
                    status_code_conformance,
                    content_type_conformance,
                    response_schema_conformance,
                ]
                if mode is GenerationMode.NEGATIVE:  # noqa: B023  (check runs in this iteration)
                    checks.append(negative_data_rejection)
                if response.status_code < 500:
                    checks.append(not_a_server_error)
                case.validate_response(response, checks=checks)

            check()
    # the fuzz reached the card, and refused what it had to
    assert 200 in calls["statuses"] and 400 in calls["statuses"], calls
    assert calls["count"] >= 4 * 2 * 5
