"""A person's own contact address: where their notifications are emailed. Everyone who can sign in
may register one; nobody sees anyone else's."""

from fastapi import APIRouter, Response

from grants_shared.api import Anyone, DatabaseDep, IfMatch, Transact, set_etag
from grants_shared.auth import Role
from grants_shared.errors import NotFound
from grants_shared.openapi import etag, problems
from notifications import commands, store
from notifications.schemas import ContactDetails, ContactView

router = APIRouter(prefix="/v1/me/contact", tags=["contact"])


@router.get(
    "", summary="The email address you registered for notifications",
    responses=etag() | problems(s404="You have not registered a contact address"),
)  # fmt: skip
async def get_contact(caller: Anyone, database: DatabaseDep, response: Response) -> ContactView:
    contact = await store.get_contact(database, caller.subject)
    if contact is None:
        raise NotFound("you have not registered a contact address")
    set_etag(response, contact.version)
    return ContactView.of(contact)


@router.put(
    "",
    summary="Register or change the email address your notifications go to",
    description="The first registration needs no If-Match; changing it needs the ETag you last read.",
    responses={
        **etag(), 201: {"description": "Address registered", "headers": etag()[200]["headers"]}, **problems(428)
    },
)
async def put_contact(
    body: ContactDetails, caller: Anyone, transact: Transact, version: IfMatch, response: Response
) -> ContactView:
    finance_officer = Role.FINANCE_OFFICER in caller.roles
    contact, registered = await transact(commands.register_contact, caller.subject, body, version, finance_officer)
    response.status_code = 201 if registered else 200
    set_etag(response, contact.version)
    return ContactView.of(contact)


@router.put(
    "/from-token",
    summary="Use the email address your sign-in carries for your notifications, unless you registered one",
    description=(
        "Called by the portal when someone signs in: a reviewer or panel member is then emailed at the address "
        "their identity provider gives, without registering separately. An address you registered yourself is "
        "never replaced; one taken from your token follows your token. 201 when this records your first address."
    ),
    responses={
        **etag(), 201: {"description": "Address recorded", "headers": etag()[200]["headers"]},
        **problems(s422="Your sign-in carries no usable email address"),
    },
)
async def put_contact_from_token(caller: Anyone, transact: Transact, response: Response) -> ContactView:
    contact, created = await transact(commands.record_token_contact, caller)
    response.status_code = 201 if created else 200
    set_etag(response, contact.version)
    return ContactView.of(contact)
