"""An application's answers to its programme's own questions: a group saves some at a time (a draft
holds partial answers), attaches files (kept in GridFS), and it and the programme's managers read
the files back. Every problem is named by question id."""

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Response, UploadFile

from applications import commands, store
from applications.api.applications import visible
from applications.schemas import AnswersPatch, ApplicationView
from grants_shared.api import (
    ApplicantOrManager, DatabaseDep, IfMatch, IfMatchRequired, PathId, Transact, is_manager, set_etag,
)  # fmt: skip
from grants_shared.forms import MAX_FILE_BYTES, QuestionId
from grants_shared.openapi import etag, problems

router = APIRouter(prefix="/v1/applications", tags=["answers"])


@router.put(
    "/{application_id}/answers",
    summary="Save answers to a draft's questions (If-Match required); null removes an answer",
    responses=etag() | problems(409),
)
async def save_answers(
    application_id: PathId, body: AnswersPatch, caller: ApplicantOrManager, transact: Transact, version: IfMatchRequired,
    database: DatabaseDep, response: Response,
) -> ApplicationView:  # fmt: skip
    saved = await transact(commands.save_answers, caller, application_id, body.answers, version)
    set_etag(response, saved.version)
    return ApplicationView.of(saved, manager=is_manager(caller), form=await commands.application_form(database, saved))


@router.post(
    "/{application_id}/attachments/{question_id}",
    summary=f"Attach a file to answer a file question (multipart field 'file', at most {MAX_FILE_BYTES} bytes)",
    responses=etag() | problems(409, s413="The file is larger than the service accepts"),
)
async def attach_file(
    application_id: PathId, question_id: QuestionId, file: Annotated[UploadFile, File()], caller: ApplicantOrManager,
    database: DatabaseDep, transact: Transact, version: IfMatch, response: Response,
) -> ApplicationView:  # fmt: skip
    content = await file.read(MAX_FILE_BYTES + 1)
    saved = await commands.attach_file(
        database, transact, caller, application_id, question_id, file.filename or "file", content, version
    )
    set_etag(response, saved.version)
    return ApplicationView.of(saved, manager=is_manager(caller), form=await commands.application_form(database, saved))


@router.get(
    "/{application_id}/attachments/{question_id}",
    summary="Download a file attached to an application",
    response_class=Response,
    responses={200: {"description": "The file", "content": {"application/octet-stream": {}}}},
)
async def download_file(
    application_id: PathId, question_id: QuestionId, caller: ApplicantOrManager, database: DatabaseDep
) -> Response:
    application = visible(caller, await store.get_application(database, application_id), application_id)
    attachment, content = await commands.attachment_of(database, application, question_id)
    disposition = f"attachment; filename*=UTF-8''{quote(attachment.filename)}"
    return Response(content, media_type=attachment.content_type, headers={"Content-Disposition": disposition})
