"""A person's own choices of what they are told: for each kind of message, email and inbox on or off
(the kinds that must always go say so and cannot be turned off), and for reviewers and programme
managers one email a day instead. Nobody sees or changes anyone else's."""

from fastapi import APIRouter, Response

from grants_shared.api import Anyone, DatabaseDep, IfMatch, Transact, set_etag
from grants_shared.openapi import etag, problems
from notifications import commands, preferences, store
from notifications.schemas import PreferencesChange, PreferencesView

router = APIRouter(prefix="/v1/me/preferences", tags=["preferences"])


@router.get("", summary="Your choices of what you are told, and how (version 0: you made none yet)", responses=etag())
async def get_preferences(caller: Anyone, database: DatabaseDep, response: Response) -> PreferencesView:
    stored = await store.get_preferences(database, caller.subject)
    view = PreferencesView.of_stored(stored, preferences.may_choose_digest(caller.roles))
    set_etag(response, view.version)
    return view


@router.put(
    "",
    summary="Change your choices (the kinds that always go cannot be turned off)",
    description="The first change needs no If-Match; later ones need the ETag you last read. A daily digest "
    "is for reviewers and programme managers (422 for anyone else).",
    responses=etag() | problems(412, 428),
)
async def put_preferences(
    body: PreferencesChange, caller: Anyone, transact: Transact, version: IfMatch, response: Response
) -> PreferencesView:
    may_digest = preferences.may_choose_digest(caller.roles)
    stored = await transact(commands.change_preferences, caller.subject, body, version, may_digest)
    set_etag(response, stored.version)
    return PreferencesView.of_stored(stored, may_digest)
