"""docs/asyncapi.yaml is generated from the contracts, valid AsyncAPI 3.0, and current."""

import json
from pathlib import Path

import jsonschema
import yaml

from grants_shared.asyncapi import build, render
from grants_shared.events import CONTRACTS

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT.parent / "shared" / "standards" / "asyncapi" / "asyncapi-3.0.0.schema.json"
VENDORED = ROOT / "tests" / "unit" / "asyncapi-3.0.0.schema.json"


def test_docs_asyncapi_is_current() -> None:
    committed = (ROOT / "docs" / "asyncapi.yaml").read_text()
    assert committed == render(), "docs/asyncapi.yaml is stale: run `make asyncapi` and commit it"


def test_asyncapi_document_is_valid_asyncapi_3() -> None:
    schema_path = SCHEMA if SCHEMA.exists() else VENDORED
    schema = json.loads(schema_path.read_text())
    document = yaml.safe_load(render())
    jsonschema.validate(document, schema)


def test_every_contract_has_a_channel_and_a_send_operation_by_its_owner() -> None:
    document = build()
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == set(CONTRACTS)
    senders = {(op["summary"].split()[0], op["summary"].split()[-1]) for op in document["operations"].values()
               if op["action"] == "send"}
    assert senders == {(c.owner, t) for t, c in CONTRACTS.items()}


def test_refs_all_resolve() -> None:
    document = build()
    text = json.dumps(document)
    for ref in {part.split('"')[0] for part in text.split('"$ref": "')[1:]}:
        node = document
        for key in ref.removeprefix("#/").split("/"):
            assert key in node, f"dangling $ref {ref}"
            node = node[key]
