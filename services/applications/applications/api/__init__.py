"""The HTTP API, one module per resource. Every route names the roles that may call it, calls one
command (in a transaction that carries the caller and the request's trace) or reads the store, and
shapes the answer."""

from applications.api import (
    answers, applications, changes, erasure_requests, forms, organisations, programmes, reach, search, stages,
)

ROUTERS = (
    programmes.router, forms.router, organisations.router, applications.router, answers.router, stages.router,
    reach.router, search.router, erasure_requests.router, changes.router,
)
