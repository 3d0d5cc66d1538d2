"""Turns a :class:`Notice` into a subject, a plain-text body and an HTML body with the Jinja2
templates in ``notifications/templates`` (``<template>.subject.txt``, ``<template>.txt``,
``<template>.html``). HTML is autoescaped, so text people wrote (titles, feedback, names) can never
inject markup; text templates are not escaped, so "<" stays "<" in plain text."""

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from notifications.domain import Notice, Template, single_line

TEMPLATES = Path(__file__).parent / "templates"
DEFAULT_PORTAL_URL = "http://localhost:8000"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        # StrictUndefined: a context missing a variable fails loudly instead of sending a message with a hole.
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env


def render(notice: Notice, portal_url: str = DEFAULT_PORTAL_URL) -> Rendered:
    """``portal_url`` is where the web frontend lives, for the links in every message."""
    env = environment()
    name = str(notice.template)
    context = {**notice.context, "portal_url": portal_url, "link": portal_url.rstrip("/") + notice.page}
    return Rendered(
        subject=single_line(env.get_template(f"{name}.subject.txt").render(context)),
        text=env.get_template(f"{name}.txt").render(context).strip() + "\n",
        html=env.get_template(f"{name}.html").render(context),
    )


def missing_templates() -> list[str]:
    """Templates a kind of message needs but the package lacks (checked by the tests)."""
    wanted = [f"{t}{suffix}" for t in Template for suffix in (".subject.txt", ".txt", ".html")]
    return [name for name in wanted if not (TEMPLATES / name).is_file()]
