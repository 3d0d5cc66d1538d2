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
    # The statement is read in a transaction (one snapshot), which may be busy: 503.
    assert set(operation("get", "/v1/programmes/{programme_id}/ledger")["responses"]) == {
        "200", "401", "403", "404", "422", "503"}


def test_finance_s_new_operations_declare_their_answers() -> None:
    export = operation("post", "/v1/payment-runs/{run_id}/bank-file")
    assert {"application/xml", "text/csv"} <= set(export["responses"]["200"]["content"])
    assert {"401", "403", "404", "409", "422"} <= set(export["responses"])
    reconcile = operation("post", "/v1/payment-runs/{run_id}/reconciliation")
    assert list(reconcile["requestBody"]["content"]) == ["text/csv"]
    for path in ("/v1/payment-runs/{run_id}/approve", "/v1/grants/{grant_id}/decline", "/v1/grants/{grant_id}/hold",
                 "/v1/grants/{grant_id}/release", "/v1/payments/{payment_id}/hold"):
        assert "409" in operation("post", path)["responses"], path
