"""A programme's own questions: the form a group answers, and the rules every answer is checked by.

Pure (no I/O, no clock): applications checks an application's answers with it, and any service that
asks people questions (a monitoring report) can define and check its form the same way.

A form is a list of questions, each of one ``kind``; a question may be shown only when an earlier
question's answer is one of some values (``shown_if``). Answers are plain JSON values keyed by
question id: text is a string, a number an integer, money ``{"amount", "currency"}`` in minor
units, a date ``"YYYY-MM-DD"``, yes/no a boolean, a single choice an option's value, a multiple
choice a list of option values, and a file the attachment record the upload endpoint writes.

``answer_problems`` names every problem at once (not only the first), in words the group can act on;
a draft is checked with ``complete=False`` (what is there must be valid, nothing is required yet).
"""

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from grants_shared.money import Money, format_money

QuestionId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$", description="Unique within the form")]
Label = Annotated[str, Field(min_length=1, max_length=300)]
Help = Annotated[str, Field(max_length=2_000)]
OptionValue = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]

#: The kinds of file a programme may accept, and the first bytes each kind's files begin with (what
#: the upload is checked against, so a renamed file is refused whatever the browser declares).
FILE_TYPES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    "application/pdf": ("PDF", (b"%PDF-",)),
    "image/png": ("PNG image", (b"\x89PNG\r\n\x1a\n",)),
    "image/jpeg": ("JPEG image", (b"\xff\xd8\xff",)),
    # Word, Excel and OpenDocument files are zip archives.
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ("Word document", (b"PK\x03\x04",)),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ("Excel spreadsheet", (b"PK\x03\x04",)),
    "application/vnd.oasis.opendocument.text": ("OpenDocument text", (b"PK\x03\x04",)),
    "text/plain": ("text file", ()),
    "text/csv": ("CSV file", ()),
}
FileType = Literal[
    "application/pdf", "image/png", "image/jpeg",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.oasis.opendocument.text", "text/plain", "text/csv",
]  # fmt: skip
MAX_FILE_BYTES = 10 * 1024 * 1024

_DEFINITION = ConfigDict(extra="forbid", frozen=True)


class ShownIf(BaseModel):
    """Show a question only when an earlier yes/no or choice question's answer is one of ``any_of``
    (for yes/no: "yes" or "no"; for a multiple choice: when any chosen option is one of them)."""

    model_config = _DEFINITION

    question_id: QuestionId
    any_of: Annotated[list[OptionValue], Field(min_length=1, max_length=50)]


class Option(BaseModel):
    model_config = _DEFINITION

    value: OptionValue
    label: Label


class _Question(BaseModel):
    model_config = _DEFINITION

    id: QuestionId
    label: Label = Field(description="The question as the group reads it")
    help: Help = Field(default="", description="Hint text shown under the question")
    required: bool = True
    shown_if: ShownIf | None = None


class ShortTextQuestion(_Question):
    kind: Literal["short_text"] = "short_text"
    max_words: Annotated[int, Field(ge=1, le=100)] = 50


class LongTextQuestion(_Question):
    kind: Literal["long_text"] = "long_text"
    max_words: Annotated[int, Field(ge=1, le=2_000)] = 500


class NumberQuestion(_Question):
    kind: Literal["number"] = "number"
    minimum: Annotated[int, Field(ge=-(10**12), le=10**12)] | None = None
    maximum: Annotated[int, Field(ge=-(10**12), le=10**12)] | None = None


class MoneyQuestion(_Question):
    kind: Literal["money"] = "money"
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    maximum: Money | None = None


class DateQuestion(_Question):
    kind: Literal["date"] = "date"


class YesNoQuestion(_Question):
    kind: Literal["yes_no"] = "yes_no"


class SingleChoiceQuestion(_Question):
    kind: Literal["single_choice"] = "single_choice"
    options: Annotated[list[Option], Field(min_length=2, max_length=50)]


class MultipleChoiceQuestion(_Question):
    kind: Literal["multiple_choice"] = "multiple_choice"
    options: Annotated[list[Option], Field(min_length=2, max_length=50)]
    max_choices: Annotated[int, Field(ge=1, le=50)] | None = None


class FileQuestion(_Question):
    kind: Literal["file"] = "file"
    allowed_types: Annotated[list[FileType], Field(min_length=1, max_length=len(FILE_TYPES))]
    max_bytes: Annotated[int, Field(ge=1, le=MAX_FILE_BYTES)] = 5 * 1024 * 1024


Question = Annotated[
    ShortTextQuestion | LongTextQuestion | NumberQuestion | MoneyQuestion | DateQuestion | YesNoQuestion
    | SingleChoiceQuestion | MultipleChoiceQuestion | FileQuestion,
    Field(discriminator="kind"),
]
CHOICE_KINDS = frozenset({"yes_no", "single_choice", "multiple_choice"})


class FormDefinition(BaseModel):
    """The questions a programme asks, in the order they are asked. ``criteria`` says which questions
    each rubric criterion judges (criterion key -> question ids), so reviewers know where to look."""

    model_config = _DEFINITION

    questions: Annotated[list[Question], Field(max_length=100)]
    criteria: Annotated[dict[Annotated[str, Field(max_length=40)], list[QuestionId]], Field(max_length=20)] = {}

    @model_validator(mode="after")
    def _well_formed(self) -> "FormDefinition":
        problems = definition_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def question(self, question_id: str) -> Any:
        return next((q for q in self.questions if q.id == question_id), None)


class Attachment(BaseModel):
    """A file answer: what the upload stored (the file itself is kept apart, by ``attachment_id``)."""

    model_config = ConfigDict(extra="forbid")

    attachment_id: Annotated[str, Field(pattern=r"^[a-f0-9]{24}$")]
    filename: Annotated[str, Field(min_length=1, max_length=200)]
    content_type: FileType
    size: Annotated[int, Field(ge=1)]


class AnswerProblem(BaseModel):
    question_id: str
    message: str


# --- the definition ------------------------------------------------------------------------------


def definition_problems(form: FormDefinition, criterion_keys: Sequence[str] | None = None) -> list[str]:
    """Everything wrong with a form, in words the programme manager can act on. With ``criterion_keys``
    (the programme's rubric), the criteria it maps must be the rubric's."""
    problems: list[str] = []
    seen: dict[str, Any] = {}
    for question in form.questions:
        if question.id in seen:
            problems.append(f"question id {question.id} is used twice")
        condition = question.shown_if
        if condition is not None:
            earlier = seen.get(condition.question_id)
            if earlier is None:
                problems.append(f"{question.id} can only depend on an earlier question, not {condition.question_id}")
            elif earlier.kind not in CHOICE_KINDS:
                problems.append(f"{question.id} can only depend on a yes/no or choice question")
            else:
                unknown = sorted(set(condition.any_of) - set(_values(earlier)))
                if unknown:
                    problems.append(f"{question.id} depends on answers {condition.question_id} does not offer: "
                                    f"{', '.join(unknown)}")  # fmt: skip
        if isinstance(question, SingleChoiceQuestion | MultipleChoiceQuestion):
            values = [o.value for o in question.options]
            if len(set(values)) != len(values):
                problems.append(f"{question.id} offers the same option twice")
        if isinstance(question, NumberQuestion) and None not in (question.minimum, question.maximum):
            if question.minimum > question.maximum:  # type: ignore[operator]
                problems.append(f"{question.id}: the minimum is more than the maximum")
        if isinstance(question, MoneyQuestion) and question.maximum is not None:
            if question.maximum.currency != question.currency:
                problems.append(f"{question.id}: the maximum must be in {question.currency}")
        if isinstance(question, FileQuestion) and len(set(question.allowed_types)) != len(question.allowed_types):
            problems.append(f"{question.id} lists a file type twice")
        seen.setdefault(question.id, question)
    for key, question_ids in form.criteria.items():
        if criterion_keys is not None and key not in criterion_keys:
            problems.append(f"criterion {key} is not in the programme's rubric")
        for question_id in question_ids:
            if question_id not in seen:
                problems.append(f"criterion {key} points at {question_id}, which is not a question on the form")
    return problems


def _values(question: Any) -> list[str]:
    return ["yes", "no"] if question.kind == "yes_no" else [o.value for o in question.options]


# --- answers -------------------------------------------------------------------------------------


def visible_questions(form: FormDefinition, answers: Mapping[str, Any]) -> list[Any]:
    """The questions the group is asked, given its answers so far: a question whose condition is
    unmet is hidden, and so is any question that depends on a hidden one."""
    shown: list[Any] = []
    shown_ids: set[str] = set()
    for question in form.questions:
        condition = question.shown_if
        if condition is None or (condition.question_id in shown_ids
                                 and _chosen(answers.get(condition.question_id)) & set(condition.any_of)):  # fmt: skip
            shown.append(question)
            shown_ids.add(question.id)
    return shown


def _chosen(answer: Any) -> set[str]:
    if isinstance(answer, bool):
        return {"yes" if answer else "no"}
    if isinstance(answer, str):
        return {answer}
    if isinstance(answer, list):
        return {a for a in answer if isinstance(a, str)}
    return set()


def answer_problems(form: FormDefinition, answers: Mapping[str, Any], complete: bool) -> list[AnswerProblem]:
    """Every problem with these answers. ``complete`` (at submission): every required question shown
    must be answered. Answers to hidden questions are not checked (they are not part of the answer)."""
    problems: list[AnswerProblem] = []
    known = {q.id for q in form.questions}
    for question_id in answers:
        if question_id not in known:
            problems.append(AnswerProblem(question_id=question_id, message="This is not a question on the form"))
    for question in visible_questions(form, answers):
        answer = answers.get(question.id)
        if _blank(answer):
            if complete and question.required:
                problems.append(AnswerProblem(question_id=question.id, message=_missing(question)))
            continue
        message = answer_problem(question, answer)
        if message:
            problems.append(AnswerProblem(question_id=question.id, message=message))
    return problems


def answered(form: FormDefinition, answers: Mapping[str, Any]) -> dict[str, Any]:
    """The answers that are part of the application: those to questions shown, blanks left out."""
    return {q.id: answers[q.id] for q in visible_questions(form, answers) if not _blank(answers.get(q.id))}


def _blank(answer: Any) -> bool:
    return answer is None or answer == [] or (isinstance(answer, str) and not answer.strip())


def _missing(question: Any) -> str:
    if question.kind in CHOICE_KINDS:
        return f"Select an answer to: {question.label}"
    if question.kind == "file":
        return f"Upload a file for: {question.label}"
    return f"Answer the question: {question.label}"


def word_count(text: str) -> int:
    return len(re.findall(r"\S+", text))


def answer_problem(question: Any, answer: Any) -> str | None:
    """What is wrong with one (non-blank) answer, or None."""
    kind = question.kind
    if kind in ("short_text", "long_text"):
        if not isinstance(answer, str):
            return "Enter text"
        if len(answer) > question.max_words * 20:
            return f"Use {question.max_words} words or fewer"
        words = word_count(answer)
        if words > question.max_words:
            return f"Use {question.max_words} words or fewer; you used {words}"
        return None
    if kind == "number":
        if isinstance(answer, bool) or not isinstance(answer, int):
            return "Enter a whole number"
        if question.minimum is not None and answer < question.minimum:
            return f"Enter a number of {question.minimum} or more"
        if question.maximum is not None and answer > question.maximum:
            return f"Enter a number of {question.maximum} or less"
        return None
    if kind == "money":
        try:
            money = Money.model_validate(answer)
        except ValidationError:
            return "Enter an amount of money"
        if money.currency != question.currency:
            return f"Enter an amount in {question.currency}"
        if money.amount < 0:
            return "Enter an amount of zero or more"
        if question.maximum is not None and money.amount > question.maximum.amount:
            return f"Enter an amount of {format_money(question.maximum)} or less"
        return None
    if kind == "date":
        if not isinstance(answer, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", answer):
            return "Enter a real date"
        try:
            date.fromisoformat(answer)
        except ValueError:
            return "Enter a real date"
        return None
    if kind == "yes_no":
        return None if isinstance(answer, bool) else "Select yes or no"
    if kind == "single_choice":
        return None if answer in _values(question) else "Select one of the options"
    if kind == "multiple_choice":
        if not isinstance(answer, list) or not all(isinstance(a, str) for a in answer):
            return "Select the options that apply"
        if len(set(answer)) != len(answer) or not set(answer) <= set(_values(question)):
            return "Select only the options offered, each once"
        if question.max_choices is not None and len(answer) > question.max_choices:
            return f"Select no more than {question.max_choices}"
        return None
    # a file: the record the upload wrote
    try:
        attachment = Attachment.model_validate(answer)
    except ValidationError:
        return "Upload the file again"
    return file_problem(question, attachment.content_type, attachment.size)


def file_problem(question: FileQuestion, content_type: str, size: int, head: bytes | None = None) -> str | None:
    """Why an uploaded file cannot answer ``question`` (its type, its size, or bytes that are not of
    the type claimed), or None."""
    allowed = _either(FILE_TYPES[t][0] for t in question.allowed_types)
    if content_type not in question.allowed_types:
        return f"The file must be a {allowed}"
    if size <= 0:
        return "The file is empty"
    if head is not None:
        signatures = FILE_TYPES[content_type][1]
        if signatures and not any(head.startswith(s) for s in signatures):
            return f"The file must be a {allowed}; this one is not what its name says"
        if not signatures and b"\x00" in head:
            return f"The file must be a {allowed}; this one is not text"
    if size > question.max_bytes:
        return f"The file must be smaller than {size_words(question.max_bytes)}"
    return None


def content_type_of(filename: str) -> str | None:
    """The type a file's name says it is (browsers' declared types vary, so the extension decides)."""
    extension = filename.rsplit(".", 1)[-1].casefold() if "." in filename else ""
    return {
        "pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
        "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "odt": "application/vnd.oasis.opendocument.text", "txt": "text/plain", "csv": "text/csv",
    }.get(extension)  # fmt: skip


def size_words(size: int) -> str:
    return f"{size // (1024 * 1024)}MB" if size >= 1024 * 1024 else f"{max(1, size // 1024)}KB"


def _either(items: Any) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def answer_text(question: Any, answer: Any) -> str:
    """An answer in words, as a reviewer reads it: the chosen options' labels, money and dates as
    people write them, a file by its name (reviewers are not sent the file)."""
    kind = question.kind
    if kind == "yes_no":
        return "Yes" if answer is True else "No"
    if kind in ("single_choice", "multiple_choice"):
        labels = {o.value: o.label for o in question.options}
        chosen = [answer] if isinstance(answer, str) else list(answer or [])
        return ", ".join(labels.get(value, value) for value in chosen)
    if kind == "money" and isinstance(answer, dict):
        return format_money(Money.model_validate(answer))
    if kind == "date":
        return date.fromisoformat(answer).strftime("%-d %B %Y") if isinstance(answer, str) else str(answer)
    if kind == "file" and isinstance(answer, dict):
        return f"File attached: {answer.get('filename', 'a file')}"
    return str(answer)


def answers_for_reviewers(form: FormDefinition, answers: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The questions the group was shown and answered, in the form's order, each with its answer in
    words and the rubric criteria that judge it (``criteria`` points at questions)."""
    judged: dict[str, list[str]] = {}
    for criterion, question_ids in form.criteria.items():
        for question_id in question_ids:
            judged.setdefault(question_id, []).append(criterion)
    kept = answered(form, answers)
    return [
        {"question_id": q.id, "label": q.label, "answer": answer_text(q, kept[q.id]), "criteria": judged.get(q.id, [])}
        for q in form.questions if q.id in kept
    ]
