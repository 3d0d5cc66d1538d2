"""The form builder's steps (pure): each new question is read from the typed fields and checked with
the API's rules, and a move or removal that would break the form is refused in words."""

from typing import Any

from grants_shared.forms import FormDefinition
from portal import question_builder as builder


def typed(**fields: str) -> dict[str, str]:
    return dict.fromkeys((*builder.FIELDS, "file_types"), "") | fields


def add(draft: dict[str, Any], **fields: str) -> dict[str, Any]:
    question, errors = builder.new_question(typed(**fields), draft, "GBP")
    assert errors == {}, errors
    return {**draft, "questions": [*draft["questions"], question]}


def test_each_kind_is_read_as_the_api_takes_it() -> None:
    draft = dict(builder.EMPTY)
    draft = add(draft, label="Do you have a venue?", kind="yes_no", required="no")
    draft = add(draft, label="Where is it?", kind="short_text", max_words="20", shown_if="do_you_have_a_venue=yes")
    draft = add(draft, label="Who takes part?", kind="single_choice", options="Men\nYoung people\n")
    draft = add(draft, label="How many?", kind="number", minimum="1", maximum="500")
    draft = add(draft, label="Other funding", kind="money", money_maximum="2,500")
    draft = add(draft, label="Your plan", kind="file", file_types="application/pdf", max_megabytes="2")
    form = FormDefinition.model_validate(draft)  # what the API will take
    venue, where, who, many, money, plan = form.questions
    assert venue.required is False and where.shown_if.any_of == ["yes"] and where.max_words == 20  # type: ignore[union-attr]
    assert [o.value for o in who.options] == ["men", "young-people"]  # type: ignore[attr-defined]
    assert (many.minimum, many.maximum) == (1, 500)  # type: ignore[attr-defined]
    assert money.maximum.amount == 250_000 and money.currency == "GBP"  # type: ignore[attr-defined]
    assert plan.allowed_types == ["application/pdf"] and plan.max_bytes == 2 * 1024 * 1024  # type: ignore[attr-defined]


def test_a_question_that_cannot_be_read_is_refused_field_by_field() -> None:
    _, errors = builder.new_question(typed(kind="single_choice", options="Only one", max_words="x"), builder.EMPTY, "GBP")
    assert set(errors) == {"label", "options"}
    _, errors = builder.new_question(typed(label="File", kind="file"), builder.EMPTY, "GBP")
    assert "file_types" in errors
    _, errors = builder.new_question(typed(label="Shown when", kind="date", shown_if="nothing=yes"), builder.EMPTY, "GBP")
    assert "shown_if" in errors


def test_ids_are_unique_and_made_from_the_label() -> None:
    draft = add(dict(builder.EMPTY), label="Your idea!", kind="long_text")
    draft = add(draft, label="Your idea", kind="short_text")
    assert [q["id"] for q in draft["questions"]] == ["your_idea", "your_idea_2"]
    assert builder.question_id("2027 plans", set()) == "q_2027_plans"


def test_moves_and_removals_that_would_break_the_form_are_refused() -> None:
    draft = add(dict(builder.EMPTY), label="Venue?", kind="yes_no")
    draft = add(draft, label="Where?", kind="short_text", shown_if="venue=yes")
    draft = add(draft, label="Idea", kind="long_text")
    same, problem = builder.moved(draft, 1, -1)
    assert same == draft and problem and "'Where?' is shown only after" in problem
    moved, problem = builder.moved(draft, 2, -1)
    assert problem is None and [q["label"] for q in moved["questions"]] == ["Venue?", "Idea", "Where?"]
    assert builder.moved(draft, 0, -1) == (draft, None), "the first cannot move up: nothing happens"
    _, problem = builder.removed(draft, 0)
    assert problem and "depend on it" in problem
    mapped = builder.with_criteria(draft, {"need": ["idea", "gone"], "other": ["gone"]})
    assert mapped["criteria"] == {"need": ["idea"]}
    removed, problem = builder.removed(mapped, 2)
    assert problem is None and removed["criteria"] == {} and len(removed["questions"]) == 2


def test_the_draft_in_the_page_must_be_a_form() -> None:
    assert builder.read_draft('{"questions": [{"kind": "nonsense"}]}') is None
    assert builder.read_draft("not json") is None
    assert builder.read_draft("") is None
    assert builder.read_draft('{"questions": []}') == {"questions": [], "criteria": {}}
