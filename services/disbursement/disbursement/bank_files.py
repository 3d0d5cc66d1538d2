"""Bank files: an approved payment run as the bulk-payment files a finance team uploads to its bank,
and the bank's reconciliation file read back. An adapter: it changes nothing itself.

- ``pain.001``: an ISO 20022 CustomerCreditTransferInitiation (``pain.001.001.03``) for UK domestic
  payments: each creditor account as sort code and account number (``Othr``, scheme ``BBAN``) with the
  sort code as the agent's clearing-system member (``GBDSC``). Every file is validated against the
  official ISO 20022 schema before it is handed out (``validate_pain001``): the schema ships in the
  pinned ``sepaxml`` package (``sepaxml/schemas/pain.001.001.03.xsd``) and ``xmlschema`` validates.
- ``csv``: payee, sort code, account number, amount, reference: the plain bulk list many banks take.

Both carry full bank details, so only finance can ask for them, each export is recorded (who, when,
which format), and nothing here logs their content.

The reconciliation CSV from the bank has a header and, per payment, ``reference`` (the payment's
reference, which is also its end-to-end id in pain.001), ``status`` (``paid`` or ``failed``) and
optionally ``bank_reference`` and ``reason``.
"""

import csv
import io
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from importlib.resources import files
from typing import Literal

import xmlschema
from text_unidecode import unidecode

from disbursement.domain import BankAccount
from grants_shared.money import Money, major_units

PAIN001 = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"
#: The official ISO 20022 schema, as shipped in sepaxml (ISO 20022's terms of use allow reproducing it).
PAIN001_SCHEMA = files("sepaxml") / "schemas" / "pain.001.001.03.xsd"
Format = Literal["pain.001", "csv"]
MEDIA_TYPES: dict[str, str] = {"pain.001": "application/xml", "csv": "text/csv"}
CSV_COLUMNS = ("payee", "sort_code", "account_number", "amount", "reference")


@dataclass(frozen=True)
class Debtor:
    """The programme's own account the money leaves from."""

    name: str
    sort_code: str
    account_number: str


@dataclass(frozen=True)
class Line:
    """One payment in a bank file. Its ``reference`` (``domain.payment_reference``, unique in a run) is
    both the grantee's statement reference and the end-to-end id, so the bank's answer finds it."""

    payment_id: str
    amount: Money
    account: BankAccount
    reference: str


class InvalidBankFile(Exception):
    """A generated file the official schema refuses: a fault here, never handed out."""


_schema: xmlschema.XMLSchema | None = None


def pain001_schema() -> xmlschema.XMLSchema:
    global _schema
    if _schema is None:  # parsed once: it takes a while
        with PAIN001_SCHEMA.open("rb") as xsd:
            _schema = xmlschema.XMLSchema(xsd)
    return _schema


def validate_pain001(document: bytes) -> None:
    errors = list(pain001_schema().iter_errors(document.decode()))
    if errors:
        raise InvalidBankFile(f"pain.001 fails the ISO 20022 schema: {errors[0].reason}")


def _text(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{PAIN001}}}{tag}", attributes)
    if text is not None:
        element.text = text
    return element


def _amount(money: Money) -> str:
    return f"{major_units(money):.{max(0, -major_units(money).as_tuple().exponent)}f}"


def _clean(text: str, limit: int) -> str:
    """Latin letters (accents transliterated), digits and the punctuation UK bank files accept; at most
    ``limit`` characters."""
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 /-?:().,'+&")
    return "".join(c if c in allowed else " " for c in unidecode(text)).strip()[:limit] or "UNKNOWN"


def _account(parent: ET.Element, tag: str, sort_code: str, account_number: str) -> None:
    other = _text(_text(_text(parent, tag), "Id"), "Othr")
    _text(other, "Id", sort_code + account_number)
    _text(_text(other, "SchmeNm"), "Cd", "BBAN")


def _agent(parent: ET.Element, tag: str, sort_code: str) -> None:
    member = _text(_text(_text(parent, tag), "FinInstnId"), "ClrSysMmbId")
    _text(_text(member, "ClrSysId"), "Cd", "GBDSC")
    _text(member, "MmbId", sort_code)


def pain001(run_id: str, lines: list[Line], debtor: Debtor, created_at: datetime, execution: datetime) -> bytes:
    """The run as one pain.001.001.03 message with one payment information block, validated."""
    if not lines:
        raise ValueError("a bank file needs at least one payment")
    currency = lines[0].amount.currency
    total = sum((major_units(line.amount) for line in lines), Decimal(0))
    ET.register_namespace("", PAIN001)
    document = ET.Element(f"{{{PAIN001}}}Document")
    initiation = _text(document, "CstmrCdtTrfInitn")
    header = _text(initiation, "GrpHdr")
    _text(header, "MsgId", run_id.replace("-", "")[:35])
    _text(header, "CreDtTm", created_at.strftime("%Y-%m-%dT%H:%M:%S"))
    _text(header, "NbOfTxs", str(len(lines)))
    _text(header, "CtrlSum", str(total))
    _text(_text(header, "InitgPty"), "Nm", _clean(debtor.name, 70))

    block = _text(initiation, "PmtInf")
    _text(block, "PmtInfId", run_id.replace("-", "")[:35])
    _text(block, "PmtMtd", "TRF")
    _text(block, "NbOfTxs", str(len(lines)))
    _text(block, "CtrlSum", str(total))
    _text(_text(_text(block, "PmtTpInf"), "LclInstrm"), "Prtry", "BACS")
    _text(block, "ReqdExctnDt", execution.date().isoformat())
    _text(_text(block, "Dbtr"), "Nm", _clean(debtor.name, 70))
    _account(block, "DbtrAcct", debtor.sort_code, debtor.account_number)
    _agent(block, "DbtrAgt", debtor.sort_code)
    for line in lines:
        if line.amount.currency != currency:
            raise ValueError("a bank file holds payments in one currency")
        transfer = _text(block, "CdtTrfTxInf")
        ids = _text(transfer, "PmtId")
        _text(ids, "InstrId", line.payment_id.replace("-", "")[:35])
        _text(ids, "EndToEndId", line.reference[:35])
        _text(_text(transfer, "Amt"), "InstdAmt", _amount(line.amount), Ccy=currency)
        _agent(transfer, "CdtrAgt", line.account.sort_code)
        _text(_text(transfer, "Cdtr"), "Nm", _clean(line.account.account_name, 70))
        _account(transfer, "CdtrAcct", line.account.sort_code, line.account.account_number)
        _text(_text(transfer, "RmtInf"), "Ustrd", _clean(line.reference, 140))
    body = ET.tostring(document, encoding="utf-8", xml_declaration=True)
    validate_pain001(body)
    return body


def bulk_csv(lines: list[Line]) -> bytes:
    """payee, sort code (NN-NN-NN), account number, amount (major units), reference."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for line in lines:
        code = line.account.sort_code
        writer.writerow([_clean(line.account.account_name, 18), f"{code[:2]}-{code[2:4]}-{code[4:]}",
                         line.account.account_number, _amount(line.amount), _clean(line.reference, 18)])  # fmt: skip
    return out.getvalue().encode()


# --- what the bank sends back --------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    reference: str
    paid: bool
    bank_reference: str
    reason: str


class UnreadableReconciliation(ValueError):
    """The file is not a reconciliation CSV this service reads; nothing of it was recorded."""


def read_reconciliation(content: bytes) -> list[Outcome]:
    """Each row's outcome; the whole file is refused if any row is malformed, so a file is recorded
    whole or not at all."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableReconciliation("the file is not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"reference", "status"} <= {f.strip().lower() for f in reader.fieldnames}:
        raise UnreadableReconciliation("the file needs a header with at least the columns reference and status")
    outcomes = []
    for number, row in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        status = row.get("status", "").lower()
        if not row.get("reference") or status not in ("paid", "failed"):
            raise UnreadableReconciliation(f"line {number}: a reference and a status of paid or failed are needed")
        outcomes.append(Outcome(row["reference"], status == "paid", row.get("bank_reference", "")[:100],
                                row.get("reason", "")[:200]))  # fmt: skip
    if not outcomes:
        raise UnreadableReconciliation("the file has no payments in it")
    return outcomes
