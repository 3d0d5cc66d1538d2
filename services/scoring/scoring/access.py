"""Who may see and do what in scoring, the same for a route that reads and a command that changes.

Programme managers and admins see every programme; a reviewer sees the programmes whose panel they
sit on and only the reviews assigned to them, never one of an organisation they declared a conflict
with. Anything outside the caller's scope is NotFound (404), as if it did not exist. Reads only:
every function takes ``tx`` (a transaction, or the database for a plain read).
"""

from grants_shared.api import is_manager
from grants_shared.auth import Caller
from grants_shared.errors import Forbidden, NotFound
from grants_shared.unit_of_work import Db
from scoring import store
from scoring import domain
from scoring.domain import BlindField, ReviewStatus
from scoring.store import InvolvementClaim, Programme, Review


async def visible_programme(tx: Db, programme_id: str, caller: Caller) -> Programme:
    """The programme, if the caller manages programmes or sits on its panel."""
    programme = await store.get_programme(tx, programme_id)
    if programme is None or not (is_manager(caller) or caller.subject in programme.panel):
        raise NotFound(f"no programme {programme_id}")
    return programme


async def own_review(tx: Db, review_id: str, caller: Caller) -> Review:
    """A review the caller was assigned and still holds, of an organisation they are not conflicted with."""
    return await held_review(tx, review_id, await store.get_review(tx, review_id), caller)


async def held_review(tx: Db, review_id: str, review: Review | None, caller: Caller) -> Review:
    """``review``, as read, if it is one the caller holds (``own_review``)."""
    if (
        review is None
        or review.reviewer_id != caller.subject
        or review.status is ReviewStatus.CANCELLED
        # An open review never has a declared conflict: nobody is assigned an organisation they
        # declared one with, and declaring one cancels their open reviews of it in the same
        # transaction. So only a completed review needs the read.
        or (review.status not in domain.OPEN_REVIEW
            and await store.declared_conflict(tx, caller.subject, review.organisation_id))
    ):
        raise NotFound(f"no review {review_id}")
    return review


def not_their_own(caller: Caller, organisation_id: str) -> None:
    """Someone who represents the applicant organisation (their token lists it) may neither score nor
    decide its application, whether or not they declared the conflict."""
    if organisation_id in caller.organisation_ids:
        raise Forbidden(
            f"you represent {organisation_id}, so you may not score or decide its application; "
            "declare a conflict of interest with it so another panel member reviews it"
        )


async def untrained(tx: Db, programme: Programme | None, member_ids: list[str]) -> set[str]:
    """Those of ``member_ids`` who lack a course the programme requires: they may not score or vote
    there, so they count neither to a meeting's quorum nor among those it waits for."""
    if programme is None or not programme.required_courses:
        return set()
    completed = await store.completed_courses(tx, member_ids)
    return set(member_ids) - set(domain.trained_panel(member_ids, programme.required_courses, completed))
def hidden_from(caller: Caller, programme: Programme | None) -> frozenset[BlindField]:
    """Blind review: the fields the caller is not shown of the programme's applications. Managers and
    admins see everything; anyone else (a reviewer, a panel member) what the programme has not hidden.
    An unknown programme hides everything it could, rather than nothing."""
    if is_manager(caller):
        return frozenset()
    if programme is None:
        return frozenset(BlindField)
    return frozenset(programme.hidden_from_reviewers)
async def visible_claim(tx: Db, caller: Caller, claim_id: str) -> InvolvementClaim:
    """An involvement claim, for its member or a manager; anyone else: 404."""
    claim = await store.get_claim(tx, claim_id)
    if claim is None or not (is_manager(caller) or claim.member_id == caller.subject):
        raise NotFound(f"no claim {claim_id}")
    return claim
