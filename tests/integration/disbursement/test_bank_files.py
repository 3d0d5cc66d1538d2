"""Bank files: with the bank-file provider, an approved run is exported (by finance officers only,
each export recorded) as an ISO 20022 pain.001 that validates against the official schema, or as a
CSV; nothing else sends its payments; the bank's reconciliation CSV marks each payment paid or failed
once, however often it is given; a payment is never sent twice across approvals, exports and
reconciliation."""

import asyncio
import xml.etree.ElementTree as ET

import xmlschema

from disbursement.bank_files import PAIN001, PAIN001_SCHEMA
from grants_shared.events import PaymentFailed, PaymentRunExported, PaymentSent
from grants_shared.settings import ServiceSettings
from tests.integration.disbursement.helpers import (
    ACCOUNT,
    SIGNATORY,
    applicant,
    approve_due_payments,
    disbursement,
    finance,
    offered_grant,
    programme_opened,
    statement,
)
from tests.support.app import bearer
from tests.support.bus import TestBus

BANK_FILE = {"payment_provider": "bank_file", "bank_file_debtor_name": "Suicide prevention fund",
             "bank_file_debtor_sort_code": "200000", "bank_file_debtor_account_number": "55779911"}  # fmt: skip
OTHER = {"account_name": "Brent Young Minds", "sort_code": "40-12-34", "account_number": "87654321"}


async def _approved_run(client, settings: ServiceSettings, bus: TestBus) -> tuple[dict, list[dict]]:
    await bus.publish(programme_opened(budget=5_000_000))
    payments = []
    for n, account in enumerate((ACCOUNT, OTHER)):
        offer = await offered_grant(bus, f"app-{n}", 300_000 + n)
        accepted = await client.post(f"/v1/grants/{offer.grant_id}/accept", headers=applicant(settings),
                                     json={"bank_account": account, "signatory": SIGNATORY})  # fmt: skip
        assert accepted.status_code == 200, accepted.text
        payments += accepted.json()["payments"]
    [run] = await approve_due_payments(client, settings)
    return run, payments


def _reference(payment: dict) -> str:
    return f"GRANT-{payment['grant_id'].replace('-', '')[:8].upper()}-{payment['sequence']}"


async def test_an_approved_run_leaves_as_a_valid_pain001_and_a_csv_only_for_finance_officers(
    settings: ServiceSettings, bus: TestBus
) -> None:
    async with disbursement(settings, **BANK_FILE) as (client, runtime):
        run, payments = await _approved_run(client, settings, bus)
        await asyncio.sleep(0.4)
        assert bus.of_type(PaymentSent.type) == []  # approved, but only the bank pays now
        url = f"/v1/payment-runs/{run['id']}/bank-file"
        admin = bearer(settings, "admin-1", "admin")
        assert (await client.post(url, headers=admin)).status_code == 403  # bank details: finance officers only
        assert (await client.post(url, headers=applicant(settings))).status_code == 403

        xml = await client.post(url, params={"format": "pain.001"}, headers=finance(settings))
        assert xml.status_code == 200, xml.text
        assert xml.headers["content-type"].startswith("application/xml")
        assert xml.headers["cache-control"] == "no-store" and "attachment" in xml.headers["content-disposition"]
        assert xmlschema.XMLSchema(str(PAIN001_SCHEMA)).is_valid(xml.text)
        root = ET.fromstring(xml.content)
        ns = {"p": PAIN001}
        assert root.findtext(".//p:GrpHdr/p:NbOfTxs", namespaces=ns) == "2"
        assert root.findtext(".//p:GrpHdr/p:CtrlSum", namespaces=ns) == "6000.01"
        assert sorted(e.text for e in root.findall(".//p:CdtrAcct/p:Id/p:Othr/p:Id", ns)) == [
            "12345631415926", "40123487654321"]
        assert sorted(e.text for e in root.findall(".//p:EndToEndId", ns)) == sorted(_reference(p) for p in payments)

        sheet = await client.post(url, params={"format": "csv"}, headers=finance(settings))
        assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/csv")
        lines = sheet.text.strip().splitlines()
        assert lines[0] == "payee,sort_code,account_number,amount,reference" and len(lines) == 3
        assert any(line.startswith("Hope Street Peer S,12-34-56,31415926,3000.00,GRANT-") for line in lines)

        stored = await runtime.db.payments.find({}).to_list(None)
        assert {p["status"] for p in stored} == {"sending"}  # in the file: nothing else may send them
        read = (await client.get(f"/v1/payment-runs/{run['id']}", headers=finance(settings))).json()
        assert [(e["format"], e["by"], e["payments"]) for e in read["exports"]] == [("pain.001", "fin-1", 2), ("csv", "fin-1", 2)]
        exported = await bus.wait_for(PaymentRunExported.type, count=2, run_id=run["id"])
        assert [e.data.first for e in exported] == [True, False]
        # Bank details never leave in anything but the files themselves.
        for text in [read.__repr__(), *(e.data.model_dump_json() for e in bus.seen)]:
            assert ACCOUNT["account_number"] not in text and OTHER["account_number"] not in text
        held = await client.post(f"/v1/payments/{payments[0]['id']}/hold", headers=finance(settings))
        assert held.status_code == 409  # in a file given to the bank: too late to hold


async def test_the_bank_s_reconciliation_marks_each_payment_once(settings: ServiceSettings, bus: TestBus) -> None:
    async with disbursement(settings, **BANK_FILE) as (client, runtime):
        run, (first, second) = await _approved_run(client, settings, bus)
        url = f"/v1/payment-runs/{run['id']}/reconciliation"
        csv_headers = {**finance(settings), "content-type": "text/csv"}
        early = await client.post(url, content=b"reference,status\nX,paid\n", headers=csv_headers)
        assert early.status_code == 409  # nothing exported yet
        assert (await client.post(f"/v1/payment-runs/{run['id']}/bank-file", headers=finance(settings))).status_code == 200

        bad = await client.post(url, content=f"reference,status\n{_reference(first)},paid\nX,perhaps\n".encode(),
                                headers=csv_headers)  # fmt: skip
        assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
        assert bus.of_type(PaymentSent.type) == []  # refused whole: nothing recorded

        returned = (f"reference,status,bank_reference,reason\n{_reference(first)},paid,BACS-0042,\n"
                    f"{_reference(second)},failed,,Account 87654321 closed\nGRANT-NOTOURS-1,paid,,\n").encode()
        answer = await client.post(url, content=returned, headers=csv_headers)
        assert answer.status_code == 200, answer.text
        assert {k: answer.json()[k] for k in ("paid", "failed", "unchanged", "unmatched")} == {
            "paid": 1, "failed": 1, "unchanged": 0, "unmatched": 1}
        [sent] = await bus.wait_for(PaymentSent.type, payment_id=first["id"])
        assert sent.data.provider_reference == "BACS-0042"
        [failed] = await bus.wait_for(PaymentFailed.type, payment_id=second["id"])
        assert failed.data.will_retry is False and "87654321" not in failed.data.reason

        again = await client.post(url, content=returned, headers=csv_headers)
        assert {k: again.json()[k] for k in ("paid", "failed", "unchanged")} == {"paid": 0, "failed": 0, "unchanged": 2}
        await asyncio.sleep(0.3)
        assert len(bus.of_type(PaymentSent.type)) == 1 and len(bus.of_type(PaymentFailed.type)) == 1
        ledger = await statement(client, settings)
        assert ledger["paid"]["amount"] == 300_000 and ledger["reserved"]["amount"] == 300_001
        stored = {p["_id"]: p for p in await runtime.db.payments.find({}).to_list(None)}
        assert (stored[first["id"]]["status"], stored[second["id"]]["status"]) == ("sent", "failed")
        grant = (await client.get(f"/v1/grants/{first['grant_id']}", headers=finance(settings))).json()
        assert grant["status"] == "paid"

        # Finance retries the returned payment: a new run, approved again, a new file with it alone.
        assert (await client.post(f"/v1/payments/{second['id']}/retry", headers=finance(settings))).status_code == 200
        [rerun] = await approve_due_payments(client, settings)
        assert rerun["payment_ids"] == [second["id"]]
        again_file = await client.post(f"/v1/payment-runs/{rerun['id']}/bank-file", params={"format": "csv"},
                                       headers=finance(settings))  # fmt: skip
        assert len(again_file.text.strip().splitlines()) == 2
        old = await client.post(url, content=returned, headers=csv_headers)  # the old file's answer, late
        assert old.json()["paid"] == 0 and old.json()["unchanged"] == 2
        paid_now = f"reference,status\n{_reference(second)},paid\n".encode()
        done = await client.post(f"/v1/payment-runs/{rerun['id']}/reconciliation", content=paid_now, headers=csv_headers)
        assert done.json()["paid"] == 1
        await bus.wait_for(PaymentSent.type, count=2)
        await asyncio.sleep(0.3)
        assert sorted(e.data.payment_id for e in bus.of_type(PaymentSent.type)) == sorted([first["id"], second["id"]])


async def test_a_run_paid_by_the_provider_cannot_also_leave_as_a_bank_file(settings: ServiceSettings, bus: TestBus) -> None:
    async with disbursement(settings) as (client, runtime):
        await bus.publish(programme_opened())
        offer = await offered_grant(bus, "app-1", 100_000)
        await client.post(f"/v1/grants/{offer.grant_id}/accept", headers=applicant(settings),
                          json={"bank_account": ACCOUNT, "signatory": SIGNATORY})  # fmt: skip
        [run] = await approve_due_payments(client, settings)
        refused = await client.post(f"/v1/payment-runs/{run['id']}/bank-file", headers=finance(settings))
        assert refused.status_code == 409 and "provider's API" in refused.json()["detail"]
        await bus.wait_for(PaymentSent.type)
        assert await runtime.db.simulated_provider_transfers.count_documents({}) == 1
