"""Web pages in Chinese (English on request) for the people who use the ledger: the 爱心超市
counter, the community office, the member, the unit, the auditor and the region overview.

Server-rendered (Jinja2) with a little vanilla JavaScript, no build step, nothing from a CDN.
`install_web(app)` adds the pages and `/static` to the API's app; the pages call the API's own
router functions, `api.policy.authorize` and the projections' queries (see api/web/core.py).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC_URL = "/static"


def install_web(app: FastAPI) -> None:
    from api.web.core import HERE
    from api.web.pages import (audit, checkin, community, counter, fallback, home, imports, logins, member, region,
                               resident, unit)

    app.include_router(counter.app_files)  # the counter's web-app files, before the pages' catch-all
    for module in (home, logins, counter, checkin, community, imports, member, resident, unit, region, audit,
                   fallback):  # fallback last
        app.include_router(module.router)
    app.mount(STATIC_URL, StaticFiles(directory=str(HERE / "static")), name="web-static")


__all__ = ["STATIC_URL", "install_web"]
