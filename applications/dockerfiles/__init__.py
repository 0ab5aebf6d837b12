"""Dockerfiles of applications: stack templates, lint (hadolint + platform rules), saved
versions with history and diff, the editor pages and the API.

Module map: parse (the text into instructions), lint, templates (+ healthcheck), diff,
services (writes), selectors (scoped reads), views/forms (pages), api (REST), admin.
"""
