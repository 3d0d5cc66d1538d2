"""The shape every service keeps (docs/architecture.md, "Code layout"), checked so it cannot drift:

- every MongoDB call is in the service's ``store.py``;
- events are emitted only by ``commands``, ``handlers`` and ``workers``;
- each contract's declared consumers are exactly the services whose ``HANDLERS`` hold its type;
- no module in ``api/`` is over 300 lines;
- every service has the same modules.
"""

import ast
import importlib
from pathlib import Path

import pytest

from grants_shared.events import CONTRACTS

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("applications", "scoring", "disbursement", "notifications")
LAYOUT = ("main.py", "config.py", "api/__init__.py", "commands", "handlers.py", "workers.py", "store.py", "domain.py")
EMITTERS = ("commands", "handlers", "workers")
MONGODB_METHODS = {
    "find", "find_one", "insert_one", "insert_many", "update_one", "update_many", "replace_one", "delete_one",
    "delete_many", "aggregate", "count_documents", "estimated_document_count", "find_one_and_update",
    "find_one_and_replace", "find_one_and_delete", "bulk_write", "create_index", "create_indexes", "distinct",
    "watch", "drop",
}
API_MODULE_LIMIT = 300


def modules(service: str) -> list[Path]:
    return sorted((ROOT / "services" / service / service).rglob("*.py"))


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def module_name(path: Path, service: str) -> str:
    return path.relative_to(ROOT / "services" / service / service).with_suffix("").as_posix().replace("/", ".")


def mongodb_access(tree: ast.AST) -> list[tuple[int, str]]:
    """Where a module touches MongoDB itself: imports PyMongo (other than its error types), reaches for
    the database (``.db``), or calls a collection method."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pymongo"):
            if node.module != "pymongo.errors":
                found.append((node.lineno, f"from {node.module} import ..."))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, f"import {a.name}") for a in node.names if a.name.startswith("pymongo")]
        elif isinstance(node, ast.Attribute) and node.attr == "db":
            found.append((node.lineno, f"{ast.unparse(node)}"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MONGODB_METHODS:
            found.append((node.lineno, f"{ast.unparse(node.func)}(...)"))
    return found


def emits(tree: ast.AST) -> list[int]:
    return [
        node.lineno for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "emit"
    ]


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_the_same_modules(service: str) -> None:
    package = ROOT / "services" / service / service

    def present(name: str) -> bool:
        # commands may be one module or, once it grows, a package of them
        return (package / name).is_file() or (package / f"{name}.py").is_file() or (package / name / "__init__.py").is_file()

    assert [name for name in LAYOUT if not present(name)] == []


@pytest.mark.parametrize("service", SERVICES)
def test_mongodb_is_reached_only_from_store(service: str) -> None:
    outside = {
        f"{relative(path)}:{line}": what
        for path in modules(service) if path.name != "store.py"
        for line, what in mongodb_access(ast.parse(path.read_text()))
    }
    assert outside == {}


@pytest.mark.parametrize("service", SERVICES)
def test_only_commands_handlers_and_workers_emit_events(service: str) -> None:
    elsewhere = [
        f"{relative(path)}:{line}"
        for path in modules(service) if module_name(path, service).split(".")[0] not in EMITTERS
        for line in emits(ast.parse(path.read_text()))
    ]
    assert elsewhere == []


def test_each_contract_is_handled_by_exactly_its_declared_consumers() -> None:
    handled_by: dict[str, set[str]] = {event_type: set() for event_type in CONTRACTS}
    for service in SERVICES:
        for event_type in importlib.import_module(f"{service}.handlers").HANDLERS:
            handled_by[event_type].add(service)
    declared = {event_type: set(contract.consumers) for event_type, contract in CONTRACTS.items()}
    assert handled_by == declared


@pytest.mark.parametrize("service", SERVICES)
def test_no_api_module_is_over_300_lines(service: str) -> None:
    api = ROOT / "services" / service / service / "api"
    lengths = {relative(path): len(path.read_text().splitlines()) for path in sorted(api.glob("*.py"))}
    assert lengths and {path: n for path, n in lengths.items() if n > API_MODULE_LIMIT} == {}


def test_the_checks_see_what_they_look_for() -> None:
    """The AST checks find the things they forbid (so a passing test means something)."""
    tree = ast.parse("from pymongo import ASCENDING\nasync def f(tx):\n    await tx.db.x.find_one({})\n    await tx.emit(e)\n")
    assert [what for _, what in mongodb_access(tree)] == ["from pymongo import ...", "tx.db.x.find_one(...)", "tx.db"]
    assert emits(tree) == [4]
    assert mongodb_access(ast.parse("from pymongo.errors import DuplicateKeyError")) == []
