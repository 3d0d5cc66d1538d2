"""The portal's pages, one module per part of the programme: each page calls the services' public
APIs (with the signed-in person's token) and renders a template."""

from portal.pages import award_settings, involvement
from portal.pages import (
    admin, applying, assisted, conflicts, decisions, eligibility, finance, form_builder, grants, group_training,
    history, inbox, manage, meetings, monitoring, organisation, panel_support, payment_runs, personal_data, preferences,
    programme_changes, public, questions, reach, reviews, search, shortlist, signin, variations,
)

ROUTERS = (
    public.router, eligibility.router, signin.router, organisation.router,
    # before applying's one-question-a-page route, which would take /applications/{id}/equality-monitoring
    # and /applications/{id}/take-over
    reach.router, assisted.router, applying.router, questions.router, grants.router, reviews.router,
    conflicts.router, manage.router, shortlist.router, decisions.router, meetings.router, history.router,
    finance.router, payment_runs.router, admin.router, personal_data.router, inbox.router, preferences.router,
    search.router, panel_support.router, group_training.router, monitoring.router, variations.router,
    involvement.router, programme_changes.router, form_builder.router, award_settings.router,
)
