"""One-click unsubscribe (RFC 8058): the link in an email's List-Unsubscribe header. A mail client
POSTs ``List-Unsubscribe=One-Click`` to it, with no sign-in; the signed token in the path names the
person and the kind of email, and that kind of email is turned off for them."""

from typing import Annotated

from fastapi import APIRouter, Path

from grants_shared.api import DatabaseDep, Transactor
from grants_shared.errors import GrantsError
from grants_shared.openapi import problems
from grants_shared.tracing import current_traceparent
from notifications import commands, preferences, unsubscribe
from notifications.config import CurrentSettings
from notifications.schemas import Unsubscribed

router = APIRouter(prefix="/v1/unsubscribe", tags=["unsubscribe"])

Token = Annotated[str, Path(min_length=20, max_length=1_000, pattern=r"^[A-Za-z0-9_=-]+$")]


class InvalidLink(GrantsError):
    status = 400
    code = "invalid-unsubscribe-link"
    title = "Not a valid unsubscribe link"


@router.post(
    "/{token}",
    summary="Turn off the kind of email this link came in (one click, no sign-in)",
    description="The body a mail client sends (List-Unsubscribe=One-Click) is not needed. Doing it twice "
    "changes nothing more.",
    responses=problems(s400="The link was altered, or is not one of ours"),
)
async def one_click(token: Token, database: DatabaseDep, settings: CurrentSettings) -> Unsubscribed:
    try:
        person_id, kind = unsubscribe.read(settings, token)
    except unsubscribe.BadToken as error:
        raise InvalidLink(str(error)) from None
    # No sign-in: the signed token is the authority, for this one change, made for the person it names.
    transact = Transactor(database, current_traceparent(), person_id)
    choices = await transact(commands.unsubscribe, person_id, kind)
    still = kind != preferences.DIGEST_KIND and preferences.email_delivery(choices, kind) is not preferences.Delivery.OFF
    return Unsubscribed(kind=kind, email=still)
