"""The form builder, read: a programme's questions being put together one at a time on a page that
works without JavaScript. The form so far travels in the page (a hidden field, as the JSON the
applications API takes) until the manager publishes it as a new version; each step (add, move up or
down, remove) is checked with the same rules the API applies (``grants_shared.forms``), so a step
that would break the form is refused in words, beside the field it is about."""

import re
import unicodedata
from typing import Any

from pydantic import ValidationError

from grants_shared.forms import CHOICE_KINDS, FILE_TYPES, FormDefinition, definition_problems
from portal import forms

KINDS = {
    "short_text": "Short text", "long_text": "Long text", "number": "A whole number", "money": "An amount of money",
    "date": "A date", "yes_no": "Yes or no", "single_choice": "One choice from a list",
    "multiple_choice": "Choices from a list", "file": "A file to upload",
}  # fmt: skip
TEXT_KINDS, CHOICES = ("short_text", "long_text"), ("single_choice", "multiple_choice")
FIELDS = ("kind", "label", "help", "required", "max_words", "minimum", "maximum", "money_maximum", "options",
          "shown_if", "max_megabytes")  # fmt: skip
EMPTY: dict[str, Any] = {"questions": [], "criteria": {}}


def read_draft(text: str) -> dict[str, Any] | None:
    """The form so far, from the page: None if it is not a form (the page was tampered with or is stale)."""
    try:
        return FormDefinition.model_validate_json(text or "{}").model_dump(mode="json", exclude_none=True)
    except ValidationError:
        return None


def _checked(draft: dict[str, Any]) -> list[str]:
    try:
        form = FormDefinition.model_validate(draft)
    except ValidationError as error:
        return [str(e.get("msg", "")).removeprefix("Value error, ") for e in error.errors(include_url=False)]
    return definition_problems(form)


def question_id(label: str, taken: set[str]) -> str:
    """An id for a question from its label: lowercase letters, digits and underscores, starting with a
    letter, at most 40 characters, unique in the form."""
    plain = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode().lower()
    key = re.sub(r"[^a-z0-9]+", "_", plain).strip("_")[:30].rstrip("_")
    key = key if key[:1].isalpha() else f"q_{key}".rstrip("_")
    unique, number = key, 2
    while unique in taken:
        unique, number = f"{key}_{number}", number + 1
    return unique


def _option_value(label: str, taken: set[str]) -> str:
    plain = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode().lower()
    value = re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:30].strip("-") or "option"
    value = value if value[:1].isalnum() else f"o{value}"
    unique, number = value, 2
    while unique in taken:
        unique, number = f"{value}-{number}", number + 1
    return unique


def new_question(values: dict[str, str], draft: dict[str, Any], currency: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The question typed into the "add a question" fields, and what cannot be read from them."""
    errors: dict[str, str] = {}
    kind, label = values["kind"], values["label"].strip()
    if kind not in KINDS:
        errors["kind"] = "Select the kind of answer the question needs"
    if not label:
        errors["label"] = "Enter the question"
    elif len(label) > 300:
        errors["label"] = "The question must be 300 characters or fewer"
    if len(values["help"]) > 2_000:
        errors["help"] = "The hint must be 2,000 characters or fewer"
    taken = {q["id"] for q in draft["questions"]}
    question: dict[str, Any] = {"kind": kind, "id": question_id(label or "question", taken), "label": label,
                                "help": values["help"].strip(), "required": values["required"] != "no"}  # fmt: skip
    if kind in TEXT_KINDS and values["max_words"].strip():
        most = 100 if kind == "short_text" else 2_000
        words = forms.whole_number(values["max_words"], "the most words", 1, most)
        _put(question, "max_words", words, "max_words", errors)
    if kind == "number":
        for field in ("minimum", "maximum"):
            if values[field].strip():
                number = forms.whole_number(values[field], f"the {field}", -(10**12), 10**12)
                _put(question, field, number, field, errors)
    if kind == "money":
        question["currency"] = currency
        if values["money_maximum"].strip():
            amount = forms.money(values["money_maximum"], currency, "the most a group can give")
            _put(question, "maximum", amount if isinstance(amount, str) else amount.model_dump(), "money_maximum", errors)
    if kind in CHOICES:
        labels = [line.strip() for line in values["options"].splitlines() if line.strip()]
        if len(labels) < 2:
            errors["options"] = "Enter at least two options, one on each line"
        elif len(labels) > 50 or any(len(o) > 300 for o in labels):
            errors["options"] = "Enter at most 50 options, each 300 characters or fewer"
        chosen: set[str] = set()
        question["options"] = []
        for option in labels:
            value = _option_value(option, chosen)
            chosen.add(value)
            question["options"].append({"value": value, "label": option})
    if kind == "file":
        question["allowed_types"] = [t for t in values.get("file_types", "").split("\n") if t in FILE_TYPES]
        if not question["allowed_types"]:
            errors["file_types"] = "Select the kinds of file groups may upload"
        if values["max_megabytes"].strip():
            megabytes = forms.whole_number(values["max_megabytes"], "the largest file, in megabytes", 1, 10)
            _put(question, "max_bytes", megabytes if isinstance(megabytes, str) else megabytes * 1024 * 1024,
                 "max_megabytes", errors)  # fmt: skip
    if values["shown_if"]:
        if values["shown_if"] not in {c["value"] for c in conditions(draft)}:
            errors["shown_if"] = "Select an answer to an earlier question, or always show it"
        else:
            depends, _, answer = values["shown_if"].partition("=")
            question["shown_if"] = {"question_id": depends, "any_of": [answer]}
    if errors:
        return {}, errors
    problems = _checked({**draft, "questions": [*draft["questions"], question]})
    if problems:
        return {}, {"label": _sentence(problems[0])}
    return question, {}


def _put(question: dict[str, Any], key: str, value: Any, field: str, errors: dict[str, str]) -> None:
    if isinstance(value, str):
        errors[field] = value
    else:
        question[key] = value


def conditions(draft: dict[str, Any]) -> list[dict[str, str]]:
    """Every answer of an earlier yes/no or choice question a new question can be shown after."""
    found: list[dict[str, str]] = []
    for question in draft["questions"]:
        if question["kind"] not in CHOICE_KINDS:
            continue
        answers = ([("yes", "Yes"), ("no", "No")] if question["kind"] == "yes_no"
                   else [(o["value"], o["label"]) for o in question["options"]])  # fmt: skip
        found += [{"value": f"{question['id']}={value}", "text": f"{question['label']}: {label}"}
                  for value, label in answers]  # fmt: skip
    return found


def moved(draft: dict[str, Any], index: int, step: int) -> tuple[dict[str, Any], str | None]:
    """The form with question ``index`` moved one place up (-1) or down (+1), or why it cannot move."""
    questions = list(draft["questions"])
    other = index + step
    if not (0 <= index < len(questions) and 0 <= other < len(questions)):
        return draft, None
    questions[index], questions[other] = questions[other], questions[index]
    changed = {**draft, "questions": questions}
    if _checked(changed):
        # the later of the two is shown only after an answer to the earlier one
        later = draft["questions"][max(index, other)]
        return draft, f"'{later['label']}' is shown only after an answer to the question before it: it cannot move above it"
    return changed, None


def removed(draft: dict[str, Any], index: int) -> tuple[dict[str, Any], str | None]:
    """The form without question ``index`` (and no criterion pointing at it), or why it must stay."""
    if not 0 <= index < len(draft["questions"]):
        return draft, None
    gone = draft["questions"][index]["id"]
    criteria = {key: [q for q in ids if q != gone] for key, ids in draft.get("criteria", {}).items()}
    changed = {"questions": [q for i, q in enumerate(draft["questions"]) if i != index],
               "criteria": {key: ids for key, ids in criteria.items() if ids}}  # fmt: skip
    problems = _checked(changed)
    if problems:
        return draft, f"Questions shown only after an answer to '{draft['questions'][index]['label']}' depend on it: remove them first"
    return changed, None


def with_criteria(draft: dict[str, Any], chosen: dict[str, list[str]]) -> dict[str, Any]:
    """The form with the questions each rubric criterion judges (only questions on the form)."""
    ids = {q["id"] for q in draft["questions"]}
    return {**draft, "criteria": {key: [q for q in picked if q in ids] for key, picked in chosen.items()
                                  if any(q in ids for q in picked)}}  # fmt: skip


def describe(question: dict[str, Any], draft: dict[str, Any]) -> str:
    """What a question asks for, in a few words, for the list of questions so far."""
    parts = [KINDS.get(question["kind"], question["kind"]), "must be answered" if question.get("required", True)
             else "optional"]  # fmt: skip
    if question.get("max_words"):
        parts.append(f"at most {question['max_words']} words")
    if question.get("minimum") is not None:
        parts.append(f"at least {question['minimum']}")
    if question.get("maximum") is not None and question["kind"] == "number":
        parts.append(f"at most {question['maximum']}")
    if question.get("options"):
        parts.append("options: " + ", ".join(o["label"] for o in question["options"]))
    if question.get("allowed_types"):
        parts.append("files: " + ", ".join(FILE_TYPES[t][0] for t in question["allowed_types"]))
    condition = question.get("shown_if")
    if condition:
        earlier = next((c["text"] for c in conditions(draft)
                        if c["value"] == f"{condition['question_id']}={condition['any_of'][0]}"), None)  # fmt: skip
        parts.append(f"shown only when {earlier}" if earlier else "shown only after an earlier answer")
    return "; ".join(parts)


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] if text else "Check the question"
