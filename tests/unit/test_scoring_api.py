"""Scoring's OpenAPI document tells the truth: each operation's problem answers, If-Match and ETag."""

from typing import Any

import pytest

from scoring.config import Settings
from scoring.main import build_app

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


@pytest.fixture(scope="module")
def paths() -> dict[str, Any]:
    return build_app(Settings()).openapi()["paths"]


@pytest.mark.parametrize("path", ["/v1/programmes/{programme_id}/panel", "/v1/reviews/{review_id}/scores"])
def test_edits_require_if_match_and_answer_with_the_new_etag(paths: dict[str, Any], path: str) -> None:
    operation = paths[path]["put"]
    assert {"412", "428"} <= set(operation["responses"])
    [if_match] = [p for p in operation["parameters"] if p["name"] == "If-Match"]
    assert if_match["in"] == "header" and if_match["required"] is True
    assert "ETag" in operation["responses"]["200"]["headers"]


@pytest.mark.parametrize(
    "path, method",
    [
        ("/v1/conflicts", "post"),
        ("/v1/conflicts/{conflict_id}/resolve", "post"),
        ("/v1/reviews/{review_id}/scores", "put"),
        ("/v1/reviews/{review_id}/submit", "post"),
        ("/v1/applications/{application_id}/moderation", "post"),
        ("/v1/applications/{application_id}/decision", "post"),
    ],
)
def test_a_change_the_state_machine_may_refuse_declares_409(paths: dict[str, Any], path: str, method: str) -> None:
    assert "409" in paths[path][method]["responses"]


def test_every_error_answer_is_problem_json_and_reads_need_no_if_match(paths: dict[str, Any]) -> None:
    for path, operations in paths.items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                if int(status) >= 400 and path.startswith("/v1"):
                    assert answer["content"] == PROBLEM, (method, path, status)
            if method == "get":
                assert "412" not in operation["responses"], path
    assert "ETag" in paths["/v1/programmes/{programme_id}"]["get"]["responses"]["200"]["headers"]
    assert "ETag" in paths["/v1/reviews/{review_id}"]["get"]["responses"]["200"]["headers"]
