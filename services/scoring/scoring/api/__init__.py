"""The HTTP API, one module per resource. Every route names the roles that may call it, calls one
command (in a transaction that carries the caller and the request's trace) or reads the store, and
shapes the answer.

Applicants have no business here (403). Programme managers and admins see a programme's applications
and reviews; a reviewer sees only the reviews assigned to them, and never an application of an
organisation they declared a conflict with (404, as if it did not exist).
"""

from scoring.api import applications, conflicts, involvement, meetings, members, programmes, reviews

ROUTERS = (programmes.router, conflicts.router, reviews.router, applications.router, meetings.router,
           members.router, involvement.router)
