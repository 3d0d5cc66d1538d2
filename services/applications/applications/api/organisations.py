"""Organisation profiles: who an applicant group is. Its own people describe it; managers read it."""

from fastapi import APIRouter, Response

from applications import commands, store
from applications.domain import OrganisationProfile
from applications.schemas import OrganisationView
from grants_shared.api import Applicant, ApplicantOrManager, DatabaseDep, IfMatch, PathId, is_manager, set_etag
from grants_shared.errors import NotFound
from grants_shared.openapi import etag

router = APIRouter(prefix="/v1/organisations", tags=["organisations"])


@router.put(
    "/{organisation_id}",
    summary="Create or update the profile of an organisation you represent (If-Match required to update)",
    responses={**etag(), 201: {"description": "Profile created", "headers": etag()[200]["headers"]}},
)
async def put_organisation(
    organisation_id: PathId, body: OrganisationProfile, caller: Applicant, database: DatabaseDep, version: IfMatch,
    response: Response,
) -> OrganisationView:  # fmt: skip
    organisation, created = await commands.describe_organisation(database, caller, organisation_id, body, version)
    response.status_code = 201 if created else 200
    set_etag(response, organisation.version)
    return OrganisationView.of(organisation)


@router.get(
    "/{organisation_id}", summary="Read an organisation's profile (its representatives and managers)", responses=etag()
)
async def get_organisation(
    organisation_id: PathId, caller: ApplicantOrManager, database: DatabaseDep, response: Response
) -> OrganisationView:
    organisation = None
    if is_manager(caller) or caller.represents(organisation_id):
        organisation = await store.get_organisation(database, organisation_id)
    if organisation is None:
        raise NotFound(f"no organisation {organisation_id}")
    set_etag(response, organisation.version)
    return OrganisationView.of(organisation)
