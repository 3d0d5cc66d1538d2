"""The portal's pages, one module per part of the programme: each page calls the services' public
APIs (with the signed-in person's token) and renders a template."""

from portal.pages import (
    admin, applying, conflicts, decisions, finance, grants, history, inbox, manage, meetings, organisation,
    payment_runs, personal_data, preferences, public, reviews, signin,
)

ROUTERS = (
    public.router, signin.router, organisation.router, applying.router, grants.router, reviews.router,
    conflicts.router, manage.router, decisions.router, meetings.router, history.router, finance.router,
    payment_runs.router, admin.router, personal_data.router, inbox.router, preferences.router,
)
