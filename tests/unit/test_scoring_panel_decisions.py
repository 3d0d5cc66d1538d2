"""The panel's decision rules: quorum, recusal, tallies, majority and consensus, dissent, delegation."""

import pytest

from scoring.domain import (
    AWARDED,
    DECLINED,
    DecisionMethod,
    Dissent,
    ItemStatus,
    MemberKind,
    NotDecided,
    Quorum,
    Recommendation,
    Tally,
    Vote,
    can_move,
    decide_item,
    decision_rule_problems,
    quorum_problem,
    tally,
    vote_problems,
    voters,
)

EXPERT, STAFF = MemberKind.EXPERT_BY_EXPERIENCE, MemberKind.STAFF
FUND, OTHER, NO, ABSTAIN = (
    Recommendation.FUND, Recommendation.FUND_DIFFERENT_AMOUNT, Recommendation.DO_NOT_FUND, Recommendation.ABSTAIN
)
PANEL = {"ada": EXPERT, "ben": EXPERT, "cat": EXPERT, "dev": STAFF, "eve": STAFF}
QUORUM = Quorum(members=3, experts=2)
REQUESTED = 500_000


def majority(votes: dict[str, Vote], voting: dict[str, MemberKind] | None = None, recused: set[str] = set()):
    return decide_item(DecisionMethod.MAJORITY, QUORUM, voting or PANEL, votes, recused, REQUESTED)


def test_a_rule_must_be_one_its_panel_can_meet() -> None:
    assert decision_rule_problems(DecisionMethod.MAJORITY, PANEL, QUORUM, None) == []
    assert decision_rule_problems(DecisionMethod.MAJORITY, PANEL, Quorum(6, 1), None) == [
        "a quorum of 6 cannot be met by a panel of 5"
    ]
    assert decision_rule_problems(DecisionMethod.CONSENSUS, PANEL, Quorum(3, 4), None) == [
        "a quorum of 4 experts by experience cannot be met by 3 on the panel",
        "the quorum's experts by experience are counted among its members, so cannot outnumber them",
    ]
    assert decision_rule_problems(DecisionMethod.MAJORITY, PANEL, None, None) == ["a panel's rule needs a quorum"]
    assert decision_rule_problems(DecisionMethod.MAJORITY, PANEL, QUORUM, "admin") == [
        "only a delegated rule names a role to decide"
    ]


def test_a_delegated_rule_names_its_role_and_nothing_else() -> None:
    assert decision_rule_problems(DecisionMethod.DELEGATED, {}, None, "programme_manager") == []
    assert decision_rule_problems(DecisionMethod.DELEGATED, {}, None, None) == [
        "a delegated rule names the role decisions are delegated to"
    ]
    assert decision_rule_problems(DecisionMethod.DELEGATED, PANEL, QUORUM, "admin") == [
        "a delegated rule has no panel members or quorum: the named role decides"
    ]
    with pytest.raises(NotDecided, match="delegated"):
        decide_item(DecisionMethod.DELEGATED, QUORUM, PANEL, {}, set(), REQUESTED)


def test_only_members_present_and_not_recused_may_vote() -> None:
    assert voters(PANEL, {"ada", "ben", "dev", "zed"}, {"ben"}) == {"ada": EXPERT, "dev": STAFF}


def test_quorum_counts_members_and_experts_by_experience() -> None:
    assert quorum_problem(QUORUM, {"ada": EXPERT, "ben": EXPERT, "dev": STAFF}) is None
    staff_heavy = {"ada": EXPERT, "dev": STAFF, "eve": STAFF}
    assert quorum_problem(QUORUM, staff_heavy) == (
        "no quorum: 3 members who may vote (1 experts by experience) are present and unrecused; "
        "the rule needs 3 (2 experts by experience)"
    )
    assert quorum_problem(QUORUM, {"ada": EXPERT, "ben": EXPERT}) is not None


def test_no_decision_without_quorum_even_when_everyone_present_agrees() -> None:
    voting = {"ada": EXPERT, "dev": STAFF, "eve": STAFF}
    with pytest.raises(NotDecided, match="no quorum"):
        majority({m: Vote(FUND) for m in voting}, voting)


def test_a_recusal_can_break_the_quorum() -> None:
    present = voters(PANEL, {"ada", "ben", "dev"}, recused={"ben"})
    with pytest.raises(NotDecided, match="no quorum"):
        majority({m: Vote(FUND) for m in present}, present, recused={"ben"})


def test_every_member_who_may_vote_must_have_recorded_a_recommendation() -> None:
    with pytest.raises(NotDecided, match="2 of the 5 members"):
        majority({"ada": Vote(FUND), "ben": Vote(FUND), "cat": Vote(FUND)})


def test_tally_counts_each_recommendation_and_the_recused_but_not_their_votes() -> None:
    votes = {"ada": Vote(FUND), "ben": Vote(OTHER, 1), "cat": Vote(NO), "dev": Vote(ABSTAIN), "eve": Vote(FUND)}
    assert tally(votes, recused={"eve", "zed"}) == Tally(
        fund=1, fund_different_amount=1, do_not_fund=1, abstain=1, recused=2
    )


def test_majority_of_votes_cast_funds_at_the_lower_median_amount() -> None:
    votes = {
        "ada": Vote(FUND), "ben": Vote(OTHER, 300_000, "fund the first year only"), "cat": Vote(OTHER, 400_000),
        "dev": Vote(NO, reason="overlaps the council's service", may_be_named=True), "eve": Vote(ABSTAIN),
    }  # fmt: skip
    result = majority(votes)
    assert result.outcome == AWARDED
    assert result.amount == 400_000  # funders proposed 300k, 400k and 500k
    assert result.tally == Tally(fund=1, fund_different_amount=2, do_not_fund=1, abstain=1, recused=0)
    # the minority: the member against (named, they agreed), and the funders at another amount (unnamed)
    assert result.dissent == (
        Dissent(FUND, None, "", None),
        Dissent(OTHER, 300_000, "fund the first year only", None),
        Dissent(NO, None, "overlaps the council's service", "dev"),
    )


def test_majority_declines_and_abstentions_are_not_votes_cast() -> None:
    votes = {"ada": Vote(NO), "ben": Vote(NO), "cat": Vote(FUND, reason="strong lived experience"),
             "dev": Vote(ABSTAIN), "eve": Vote(ABSTAIN)}  # fmt: skip
    result = majority(votes)
    assert (result.outcome, result.amount) == (DECLINED, None)
    assert result.dissent == (Dissent(FUND, None, "strong lived experience", None),)


def test_a_tie_is_not_a_decision() -> None:
    votes = {"ada": Vote(NO), "ben": Vote(FUND), "cat": Vote(ABSTAIN), "dev": Vote(ABSTAIN), "eve": Vote(ABSTAIN)}
    with pytest.raises(NotDecided, match="tied, 1 to 1"):
        majority(votes)


def test_when_everyone_abstains_there_is_no_decision() -> None:
    with pytest.raises(NotDecided, match="abstained"):
        majority({m: Vote(ABSTAIN) for m in PANEL})


def test_consensus_needs_every_vote_cast_to_agree_on_the_amount_too() -> None:
    def consensus(votes: dict[str, Vote]):
        return decide_item(DecisionMethod.CONSENSUS, QUORUM, PANEL, votes, set(), REQUESTED)

    agreed = consensus({"ada": Vote(FUND), "ben": Vote(OTHER, REQUESTED), "cat": Vote(FUND), "dev": Vote(ABSTAIN),
                        "eve": Vote(FUND)})  # fmt: skip
    assert (agreed.outcome, agreed.amount, agreed.dissent) == (AWARDED, REQUESTED, ())
    with pytest.raises(NotDecided, match="no consensus: some"):
        consensus({**{m: Vote(FUND) for m in PANEL}, "eve": Vote(NO)})
    with pytest.raises(NotDecided, match="no consensus on the amount"):
        consensus({**{m: Vote(FUND) for m in PANEL}, "eve": Vote(OTHER, 100)})
    declined = consensus({m: Vote(NO) for m in PANEL})
    assert declined.outcome == DECLINED


def test_a_recommendation_carries_an_amount_only_to_fund_a_different_amount() -> None:
    assert vote_problems(FUND, None, REQUESTED, 1_000_000) == []
    assert vote_problems(OTHER, 250_000, REQUESTED, 1_000_000) == []
    assert vote_problems(FUND, 1, REQUESTED, 1_000_000) == ["only 'fund a different amount' carries an amount"]
    assert vote_problems(OTHER, None, REQUESTED, 1_000_000) == ["'fund a different amount' needs the amount"]
    assert vote_problems(OTHER, 0, REQUESTED, 1_000_000) == ["an amount to fund must be more than zero"]
    assert vote_problems(OTHER, 400_000, REQUESTED, 300_000) == [
        "an amount to fund may not exceed the amount requested or the programme's maximum award"
    ]


def test_an_item_once_decided_stays_decided() -> None:
    assert can_move(ItemStatus.OPEN, ItemStatus.DECIDED)
    assert can_move(ItemStatus.OPEN, ItemStatus.DROPPED)
    assert not can_move(ItemStatus.DECIDED, ItemStatus.OPEN)
    assert not can_move(ItemStatus.DECIDED, ItemStatus.DROPPED)


def test_a_reviewer_who_declined_or_is_at_their_maximum_load_is_not_asked() -> None:
    from scoring.domain import Assignment, assign_reviewers

    panel = ["ada", "ben", "cat"]
    assert assign_reviewers(panel, 1, {}, set(), [], declined={"ada"}) == Assignment(("ben",), 0)
    loads = {"ada": 3, "ben": 2, "cat": 5}
    assert assign_reviewers(panel, 2, loads, set(), [], max_load=3) == Assignment(("ben",), 1)
    assert assign_reviewers(panel, 2, loads, set(), [], declined={"ben"}, max_load=3) == Assignment((), 2)
