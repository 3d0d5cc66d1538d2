"""Every page of the portal was scanned with axe (WCAG 2.2 A and AA) by the browser tests before
this one (pytest runs this module last). Run it with the whole browser suite: `make test` does."""

from tests.browser.conftest import PAGE_ROUTES, SCANNED

#: Not pages a person reads: they redirect, answer a file, or answer machines.
NOT_PAGES = {"/sign-in/callback", "/sign-out", "/manage/programmes/{programme_id}/360giving", "/healthz", "/readyz",
             "/manage/programmes/{programme_id}/reach.csv", "/manage/programmes/{programme_id}/search.csv",
             "/admin/personal-data/people/{person_id}/copy.json"}


def test_every_page_of_the_portal_was_scanned_with_axe() -> None:
    pages = {template for _, template in PAGE_ROUTES} - NOT_PAGES
    assert sorted(pages - SCANNED) == []
