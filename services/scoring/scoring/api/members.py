"""Panel members supported: each member's profile (preferred name, contact, access needs), seen only
by the member and programme managers, and changed only by the member; the courses members completed,
recorded by managers; the courses a programme requires of its panel; and, for a manager planning a
meeting, the whole panel's access needs and training. Anyone else asking about a member: 403."""

from fastapi import APIRouter, Response

from grants_shared.api import (
    Anyone, DatabaseDep, IfMatch, IfMatchRequired, Manager, PathId, Transact, is_manager, set_etag,
)  # fmt: skip
from grants_shared.auth import Caller
from grants_shared.errors import Forbidden
from grants_shared.openapi import etag, problems
from scoring import access, commands, domain, store
from scoring.schemas import (
    PanelMemberSupportView, ProfileUpdate, ProfileView, ProgrammeMembersView, RequiredCoursesUpdate,
    TrainingRecordRequest, TrainingRecordView,
)  # fmt: skip
from scoring.store import MemberProfile

router = APIRouter(prefix="/v1", tags=["panel members"])

NOT_YOURS = "Only the member themself and programme managers see a member's profile and training"


def _self_or_manager(caller: Caller, member_id: str) -> None:
    if not (caller.subject == member_id or is_manager(caller)):
        raise Forbidden("a member's profile and training are seen only by them and by programme managers")


@router.get(
    "/members/{member_id}/profile",
    summary="A panel member's profile: preferred name, contact and access needs (the member and managers)",
    responses=etag() | problems(s403=NOT_YOURS),
)
async def get_profile(member_id: PathId, caller: Anyone, database: DatabaseDep, response: Response) -> ProfileView:
    _self_or_manager(caller, member_id)
    profile = await store.get_profile(database, member_id) or MemberProfile(id=member_id)
    set_etag(response, profile.version)
    return ProfileView.of_profile(profile)


@router.put(
    "/members/{member_id}/profile",
    summary="Change your own profile (If-Match optional; an unsaved profile is version 1)",
    responses=etag() | problems(s403="Only the member themself changes their profile"),
)
async def put_profile(
    member_id: PathId, body: ProfileUpdate, caller: Anyone, transact: Transact, version: IfMatch, response: Response
) -> ProfileView:
    profile = await transact(commands.save_profile, caller, member_id, body, version)
    set_etag(response, profile.version)
    return ProfileView.of_profile(profile)


@router.get(
    "/members/{member_id}/training",
    summary="The courses a panel member has completed, oldest first (the member and managers)",
    responses=problems(s403=NOT_YOURS),
)
async def list_training(member_id: PathId, caller: Anyone, database: DatabaseDep) -> list[TrainingRecordView]:
    _self_or_manager(caller, member_id)
    records = (await store.training_of(database, [member_id]))[member_id]
    return [TrainingRecordView.of_record(r) for r in records]


@router.post(
    "/members/{member_id}/training",
    status_code=201,
    summary="Record a course a panel member completed; waiting applications may then be assigned to them",
    responses=problems(s422="A completion date in the future"),
)
async def record_training(
    member_id: PathId, body: TrainingRecordRequest, caller: Manager, transact: Transact
) -> TrainingRecordView:
    record = await transact(commands.record_training, caller, member_id, body)
    return TrainingRecordView.of_record(record)


@router.put(
    "/programmes/{programme_id}/required-courses",
    summary=(
        "Require courses of the programme's panel (If-Match required): members who lack one are not assigned "
        "reviews (their open ones go to others) and may not score or vote"
    ),
    responses=etag(),
)
async def put_required_courses(
    programme_id: PathId, body: RequiredCoursesUpdate, caller: Manager, transact: Transact,
    version: IfMatchRequired, response: Response,
) -> ProgrammeMembersView:  # fmt: skip
    programme = await transact(commands.set_required_courses, caller, programme_id, body, version)
    set_etag(response, programme.version)
    return ProgrammeMembersView(programme_id=programme.id, required_courses=programme.required_courses, members=[])


@router.get(
    "/programmes/{programme_id}/members",
    summary="The panel's members with their access needs and training, for planning meetings (managers)",
)
async def programme_members(programme_id: PathId, caller: Manager, database: DatabaseDep) -> ProgrammeMembersView:
    programme = await access.visible_programme(database, programme_id, caller)
    deciding = list(programme.decision_rule.kinds) if programme.decision_rule else []
    member_ids = list(dict.fromkeys([*programme.panel, *deciding]))
    profiles = await store.profiles_of(database, member_ids)
    training = await store.training_of(database, member_ids)
    members = [
        PanelMemberSupportView(
            member_id=m, on_review_panel=m in programme.panel, on_decision_panel=m in deciding,
            profile=ProfileView.of_profile(profiles[m]) if m in profiles else None,
            training=[TrainingRecordView.of_record(r) for r in training[m]],
            missing_courses=domain.missing_courses(programme.required_courses, {r.course for r in training[m]}),
        )  # fmt: skip
        for m in member_ids
    ]
    return ProgrammeMembersView(programme_id=programme.id, required_courses=programme.required_courses, members=members)
