"""Bank files: the pain.001 a run becomes validates against the official ISO 20022 schema (and the
validation is real: a broken file is refused), the bulk CSV has the columns banks take, and a
reconciliation file is read whole or refused whole."""

import csv
import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest
import xmlschema

from disbursement.bank_files import (
    PAIN001, PAIN001_SCHEMA, Debtor, InvalidBankFile, Line, UnreadableReconciliation, bulk_csv, pain001,
    read_reconciliation, validate_pain001,
)  # fmt: skip
from disbursement.domain import BankAccount
from grants_shared.money import Money

NOW = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
DEBTOR = Debtor("Suicide prevention small grants", "200000", "55779911")
LINES = [
    Line("pay-1", Money(amount=580_000, currency="GBP"), BankAccount("Hillingdon Allotment Friends", "40-47-84", "31926819"),
         "GRANT-1A2B3C4D-1"),
    Line("pay-2", Money(amount=5, currency="GBP"), BankAccount("Café Ünity Group", "401234", "12345678"), "GRANT-9F8E7D6C-2"),
]
NS = {"p": PAIN001}


def test_a_run_s_pain001_validates_against_the_official_iso_20022_schema() -> None:
    document = pain001("run-1", LINES, DEBTOR, NOW, NOW)
    official = xmlschema.XMLSchema(str(PAIN001_SCHEMA))  # independently of the module's own check
    assert official.is_valid(document.decode())
    assert "pain.001.001.03" in PAIN001_SCHEMA.read_text()[:2000]
    root = ET.fromstring(document)
    assert root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs", namespaces=NS) == "2"
    assert root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", namespaces=NS) == "5800.05"
    transfers = root.findall(".//p:CdtTrfTxInf", NS)
    assert [t.findtext("p:Amt/p:InstdAmt", namespaces=NS) for t in transfers] == ["5800.00", "0.05"]
    assert [t.find("p:Amt/p:InstdAmt", NS).get("Ccy") for t in transfers] == ["GBP", "GBP"]
    assert [t.findtext("p:CdtrAcct/p:Id/p:Othr/p:Id", namespaces=NS) for t in transfers] == [
        "40478431926819", "40123412345678"]
    assert [t.findtext("p:PmtId/p:EndToEndId", namespaces=NS) for t in transfers] == [
        "GRANT-1A2B3C4D-1", "GRANT-9F8E7D6C-2"]
    assert transfers[1].findtext("p:Cdtr/p:Nm", namespaces=NS) == "Cafe Unity Group"  # Latin letters only


def test_the_schema_check_is_real_a_broken_file_is_refused() -> None:
    root = ET.fromstring(pain001("run-1", LINES, DEBTOR, NOW, NOW))
    header = root.find("p:CstmrCdtTrfInitn/p:GrpHdr", NS)
    header.remove(header.find("p:NbOfTxs", NS))
    with pytest.raises(InvalidBankFile, match="ISO 20022 schema"):
        validate_pain001(ET.tostring(root))


def test_a_bank_file_holds_one_currency_and_at_least_one_payment() -> None:
    euro = Line("pay-3", Money(amount=100, currency="EUR"), LINES[0].account, "GRANT-X-1")
    with pytest.raises(ValueError, match="one currency"):
        pain001("run-1", [LINES[0], euro], DEBTOR, NOW, NOW)
    with pytest.raises(ValueError):
        pain001("run-1", [], DEBTOR, NOW, NOW)


def test_the_bulk_csv_has_payee_sort_code_account_amount_reference() -> None:
    rows = list(csv.reader(io.StringIO(bulk_csv(LINES).decode())))
    assert rows == [["payee", "sort_code", "account_number", "amount", "reference"],
                    ["Hillingdon Allotme", "40-47-84", "31926819", "5800.00", "GRANT-1A2B3C4D-1"],
                    ["Cafe Unity Group", "40-12-34", "12345678", "0.05", "GRANT-9F8E7D6C-2"]]  # fmt: skip


def test_a_reconciliation_file_is_read_whole() -> None:
    text = "Reference,Status,Bank_Reference,Reason\nGRANT-1A2B3C4D-1,paid,BACS-77,\nGRANT-9F8E7D6C-2,FAILED,,Account closed\n"
    first, second = read_reconciliation(("\ufeff" + text).encode())
    assert (first.reference, first.paid, first.bank_reference) == ("GRANT-1A2B3C4D-1", True, "BACS-77")
    assert (second.paid, second.reason) == (False, "Account closed")


@pytest.mark.parametrize("content", [
    b"reference,status\nGRANT-1,paid\nGRANT-2,maybe\n",  # one bad row refuses the file
    b"payee,amount\nx,1\n", b"reference,status\n", b"\xff\xfe\x00",
])  # fmt: skip
def test_a_malformed_reconciliation_file_is_refused(content: bytes) -> None:
    with pytest.raises(UnreadableReconciliation):
        read_reconciliation(content)
