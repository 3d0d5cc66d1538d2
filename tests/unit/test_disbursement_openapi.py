"""Disbursement's OpenAPI document says what each operation needs and can answer."""

from disbursement.config import Settings
from disbursement.main import build_app


def operation(method: str, path: str) -> dict:
    return build_app(Settings()).openapi()["paths"][path][method]


def if_match(op: dict) -> dict:
    [header] = [p for p in op["parameters"] if p["in"] == "header" and p["name"] == "If-Match"]
    return header


def test_replacing_bank_details_needs_if_match_and_accepting_an_offer_may_send_it() -> None:
    replace = operation("put", "/v1/grants/{grant_id}/bank-account")
    assert set(replace["responses"]) == {"200", "401", "403", "404", "409", "412", "422", "428", "503"}
    assert if_match(replace)["required"] is True
    accept = operation("post", "/v1/grants/{grant_id}/accept")
    assert set(accept["responses"]) == {"200", "401", "403", "404", "409", "412", "422", "503"}
    assert not if_match(accept).get("required")
    for op in (replace, accept):
        assert "ETag" in op["responses"]["200"]["headers"]
        assert op["responses"]["403"]["description"] == "You do not represent the grantee organisation"


def test_reads_and_the_retry_declare_their_answers() -> None:
    assert "ETag" in operation("get", "/v1/grants/{grant_id}")["responses"]["200"]["headers"]
    retry = operation("post", "/v1/payments/{payment_id}/retry")
    assert set(retry["responses"]) == {"200", "401", "403", "404", "409", "422", "503"}
    assert set(operation("get", "/v1/grants")["responses"]) == {"200", "401", "403", "422"}
    assert set(operation("get", "/v1/programmes/{programme_id}/ledger")["responses"]) == {
        "200", "401", "403", "404", "422"}
