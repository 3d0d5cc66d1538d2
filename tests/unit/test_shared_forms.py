"""The rules of a programme's own questions: a form's definition, which questions are shown, and
every problem with a group's answers (grants_shared.forms)."""

import pytest
from pydantic import ValidationError

from grants_shared import forms
from grants_shared.forms import FormDefinition


def form(*questions: dict, criteria: dict | None = None) -> FormDefinition:
    return FormDefinition.model_validate({"questions": list(questions), "criteria": criteria or {}})


CHOICES = [{"value": "men", "label": "Men"}, {"value": "young", "label": "Young people"},
           {"value": "older", "label": "Older people"}]
FULL = form(
    {"kind": "short_text", "id": "project_name", "label": "Project name", "max_words": 5},
    {"kind": "long_text", "id": "need", "label": "What need will you meet?", "max_words": 10,
     "help": "Say who is affected"},
    {"kind": "number", "id": "volunteers", "label": "How many volunteers?", "minimum": 0, "maximum": 500},
    {"kind": "money", "id": "match_funding", "label": "Other funding", "currency": "GBP", "required": False,
     "maximum": {"amount": 1_000_000, "currency": "GBP"}},
    {"kind": "date", "id": "start", "label": "When will it start?"},
    {"kind": "yes_no", "id": "has_safeguarding", "label": "Do you have a safeguarding policy?"},
    {"kind": "file", "id": "safeguarding_policy", "label": "Upload it", "allowed_types": ["application/pdf"],
     "max_bytes": 1_000, "shown_if": {"question_id": "has_safeguarding", "any_of": ["yes"]}},
    {"kind": "single_choice", "id": "reach", "label": "Where?", "options": CHOICES[:2]},
    {"kind": "multiple_choice", "id": "who", "label": "Who for?", "options": CHOICES, "max_choices": 2},
    {"kind": "long_text", "id": "men_detail", "label": "How will you reach men?",
     "shown_if": {"question_id": "who", "any_of": ["men"]}},
    criteria={"need": ["need", "volunteers"]},
)  # fmt: skip

GOOD = {
    "project_name": "Walk and talk", "need": "Men in Brent who are isolated", "volunteers": 12,
    "start": "2027-04-01", "has_safeguarding": False, "reach": "men", "who": ["young"],
}  # fmt: skip


def messages(problems: list[forms.AnswerProblem]) -> dict[str, str]:
    return {p.question_id: p.message for p in problems}


def test_a_complete_set_of_good_answers_has_no_problems() -> None:
    assert forms.answer_problems(FULL, GOOD, complete=True) == []


def test_a_draft_needs_nothing_yet_but_a_submission_names_every_missing_required_answer() -> None:
    assert forms.answer_problems(FULL, {}, complete=False) == []
    missing = messages(forms.answer_problems(FULL, {}, complete=True))
    assert set(missing) == {"project_name", "need", "volunteers", "start", "has_safeguarding", "reach", "who"}
    assert missing["has_safeguarding"] == "Select an answer to: Do you have a safeguarding policy?"
    assert missing["need"] == "Answer the question: What need will you meet?"


def test_every_bad_answer_is_named_at_once_in_words() -> None:
    bad = {
        "project_name": "one two three four five six", "need": 7, "volunteers": 501, "match_funding":
        {"amount": 500, "currency": "EUR"}, "start": "2027-02-30", "has_safeguarding": "maybe", "reach": "older",
        "who": ["men", "young", "older"], "nonsense": "x",
    }  # fmt: skip
    assert messages(forms.answer_problems(FULL, bad, complete=False)) == {
        "nonsense": "This is not a question on the form",
        "project_name": "Use 5 words or fewer; you used 6",
        "need": "Enter text",
        "volunteers": "Enter a number of 500 or less",
        "match_funding": "Enter an amount in GBP",
        "start": "Enter a real date",
        "has_safeguarding": "Select yes or no",
        "reach": "Select one of the options",
        "who": "Select no more than 2",
        # men_detail is shown (who includes men) but a draft does not require it
    }


def test_a_question_is_shown_only_when_the_earlier_answer_says_so() -> None:
    shown = [q.id for q in forms.visible_questions(FULL, GOOD)]
    assert "safeguarding_policy" not in shown and "men_detail" not in shown
    with_policy = GOOD | {"has_safeguarding": True, "who": ["men"]}
    problems = messages(forms.answer_problems(FULL, with_policy, complete=True))
    assert problems == {"safeguarding_policy": "Upload a file for: Upload it",
                        "men_detail": "Answer the question: How will you reach men?"}  # fmt: skip


def test_answers_to_hidden_questions_are_not_part_of_what_is_sent() -> None:
    answers = GOOD | {"men_detail": "We will go to the football club"}
    assert "men_detail" not in forms.answered(FULL, answers)
    assert forms.answered(FULL, answers | {"who": ["men"]})["men_detail"] == "We will go to the football club"


def test_a_file_answer_is_checked_against_the_questions_types_and_size() -> None:
    question = FULL.question("safeguarding_policy")
    assert forms.file_problem(question, "application/pdf", 900, b"%PDF-1.7") is None
    assert forms.file_problem(question, "image/png", 900, b"\x89PNG\r\n\x1a\n") == "The file must be a PDF"
    assert forms.file_problem(question, "application/pdf", 900, b"MZ\x90\x00") == (
        "The file must be a PDF; this one is not what its name says"
    )
    assert forms.file_problem(question, "application/pdf", 1_001, b"%PDF-") == "The file must be smaller than 1KB"
    assert forms.file_problem(question, "application/pdf", 0, b"") == "The file is empty"
    assert forms.content_type_of("Policy.PDF") == "application/pdf"
    assert forms.content_type_of("policy.exe") is None


@pytest.mark.parametrize(
    ("questions", "problem"),
    [
        ([{"kind": "yes_no", "id": "a", "label": "A"}, {"kind": "yes_no", "id": "a", "label": "B"}],
         "question id a is used twice"),
        ([{"kind": "long_text", "id": "b", "label": "B", "shown_if": {"question_id": "a", "any_of": ["yes"]}},
          {"kind": "yes_no", "id": "a", "label": "A"}], "b can only depend on an earlier question, not a"),
        ([{"kind": "number", "id": "a", "label": "A"},
          {"kind": "long_text", "id": "b", "label": "B", "shown_if": {"question_id": "a", "any_of": ["yes"]}}],
         "b can only depend on a yes/no or choice question"),
        ([{"kind": "yes_no", "id": "a", "label": "A"},
          {"kind": "long_text", "id": "b", "label": "B", "shown_if": {"question_id": "a", "any_of": ["perhaps"]}}],
         "b depends on answers a does not offer: perhaps"),
        ([{"kind": "number", "id": "a", "label": "A", "minimum": 5, "maximum": 1}],
         "a: the minimum is more than the maximum"),
        ([{"kind": "single_choice", "id": "a", "label": "A",
           "options": [{"value": "x", "label": "X"}, {"value": "x", "label": "Y"}]}], "a offers the same option twice"),
    ],
)  # fmt: skip
def test_a_badly_formed_form_is_refused_with_the_reason(questions: list[dict], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        form(*questions)


def test_criteria_must_point_at_questions_on_the_form_and_criteria_of_the_rubric() -> None:
    with pytest.raises(ValidationError, match="criterion need points at budget, which is not a question"):
        form({"kind": "yes_no", "id": "a", "label": "A"}, criteria={"need": ["budget"]})
    assert forms.definition_problems(FULL, ["need"]) == []
    assert forms.definition_problems(FULL, ["impact"]) == ["criterion need is not in the programme's rubric"]


def test_a_file_question_accepts_only_the_allowed_kinds_and_at_most_ten_megabytes() -> None:
    with pytest.raises(ValidationError):
        form({"kind": "file", "id": "a", "label": "A", "allowed_types": ["application/x-msdownload"]})
    with pytest.raises(ValidationError):
        form({"kind": "file", "id": "a", "label": "A", "allowed_types": ["application/pdf"],
              "max_bytes": forms.MAX_FILE_BYTES + 1})  # fmt: skip


def test_answers_for_reviewers_are_in_words_with_the_criteria_that_judge_them() -> None:
    from grants_shared.forms import FormDefinition, answers_for_reviewers

    form = FormDefinition.model_validate({"questions": [
        {"kind": "money", "id": "cost", "label": "Cost", "currency": "GBP"},
        {"kind": "date", "id": "start", "label": "Start"},
        {"kind": "single_choice", "id": "where", "label": "Where",
         "options": [{"value": "brent", "label": "Brent"}, {"value": "harrow", "label": "Harrow"}]},
        {"kind": "file", "id": "plan", "label": "Plan", "required": False, "allowed_types": ["application/pdf"]},
        {"kind": "short_text", "id": "unanswered", "label": "Left blank", "required": False},
    ], "criteria": {"value": ["cost", "plan"]}})  # fmt: skip
    answers = {"cost": {"amount": 125_050, "currency": "GBP"}, "start": "2027-04-01", "where": "harrow",
               "plan": {"attachment_id": "x", "filename": "plan.pdf", "content_type": "application/pdf", "size": 3}}
    assert answers_for_reviewers(form, answers) == [
        {"question_id": "cost", "label": "Cost", "answer": "£1,250.50", "criteria": ["value"]},
        {"question_id": "start", "label": "Start", "answer": "1 April 2027", "criteria": []},
        {"question_id": "where", "label": "Where", "answer": "Harrow", "criteria": []},
        {"question_id": "plan", "label": "Plan", "answer": "File attached: plan.pdf", "criteria": ["value"]},
    ]
