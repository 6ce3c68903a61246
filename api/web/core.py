"""What every page shares: the session cookie, CSRF, the language switch, templates, and one route
class that turns refusals into a page (or a sign-in redirect).

* **Session**: signing in through the login form calls the same `AuthService.login` as
  `POST /v1/auth/token`; the bearer token it returns is kept in an HttpOnly cookie and resolved on
  every page with `AuthService.resolve` (so expiry, revocation and disabled logins work unchanged).
* **Authorisation**: pages call `api.policy.authorize` (or router functions that do) with the
  signed-in actor, exactly like the JSON API; `allowed()` only decides which links to show.
* **CSRF**: every POST needs the session's CSRF token (a form field or the `X-CSRF-Token` header,
  derived from the session token, which scripts cannot read) and, when the browser sends one, an
  `Origin` equal to this site; the cookie is also `SameSite=Lax`.
* **Commands**: `commands_for()` builds the API's own `Commands` runner (authorise → idempotency →
  group-commit writer), so a page's write is the API's write.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import urllib.parse
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field as dataclass_field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID, uuid4

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from api import catalogue
from api.auth import AuthenticationFailed, Principal
from api.commands import Commands, Signing
from api.errors import REFUSALS, ApiError, http_status_of
from api.policy import allowed
from api.services import Services, services_of
from api.web import i18n
from ledger.application import Ledger
from ledger.domain import limits
from ledger.domain.display import ASSURANCE_TEXT, DURATION_UNIT, duration_text, duration_words, points_text
from ledger.domain.errors import InvalidInput, LedgerError
from ledger.domain.values import Role
from ledger.signing.canonical import JsonInputError, loads_bounded
from projections.render.model import china_time

log = logging.getLogger("timeledger.web")

SESSION_COOKIE = "tl_session"
LANG_COOKIE = "tl_lang"
FLASH_COOKIE = "tl_flash"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"
FORM_BYTES_MAX = 2 * 1024 * 1024  # forms are small; uploads (certificates, bundles) have their own bound
HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals["hours"] = duration_text  # the one display rule: exact h:mm (display.py)
templates.env.globals["duration_words"] = duration_words
templates.env.globals["points_text"] = points_text
templates.env.globals["assurance_text"] = ASSURANCE_TEXT  # how a session's hours were recorded, as pages name it
templates.env.globals["DURATION_UNIT"] = DURATION_UNIT
templates.env.filters["china_time"] = china_time  # every instant on a page, in Beijing time (one rule)
templates.env.globals["limits"] = limits  # maxlength="{{ limits.NAME_CHARS_MAX }}": the domain's limits
templates.env.finalize = lambda value: "" if value is None else value
templates.env.globals["nonce"] = lambda: uuid4().hex

# Everything comes from this server: no CDN, no inline script; the camera stream is a blob/mediastream.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "media-src 'self' blob: mediastream:; connect-src 'self'; object-src 'none'; "
                           "frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
DEFAULT_NAME = "爱心时间银行"
ROLE_HOME: dict[Role, str] = {
    Role.COUNTER: "/counter",
    Role.COMMUNITY: "/community",
    Role.MEMBER: "/me",
    Role.UNIT: "/unit",
    Role.AUDITOR: "/audit",
    Role.REGION: "/region",
    Role.RESIDENT: "/resident",
}


class LoginRequired(Exception):
    """No valid session: the page redirects to the sign-in form."""


class CsrfRefused(ApiError):
    code = "csrf_refused"


# -- language ------------------------------------------------------------------------------------------

def lang_of(request: Request) -> str:
    chosen = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or "zh"
    return chosen if chosen in i18n.LANGUAGES else "zh"


def translator(lang: str) -> Callable[[str], str]:
    if lang == "en":
        return lambda text: i18n.EN.get(text, text)
    return lambda text: text


# -- session -------------------------------------------------------------------------------------------

def services(request: Request) -> Services:
    return services_of(request.app)


def session_token(request: Request) -> str | None:
    token = request.cookies.get(SESSION_COOKIE)
    return token if token and len(token) <= 128 else None


def principal_or_none(request: Request) -> Principal | None:
    token = session_token(request)
    if token is None:
        return None
    try:
        return services(request).auth.resolve(token)
    except AuthenticationFailed:
        return None


def require_principal(request: Request, *roles: Role) -> Principal:
    """The signed-in principal; pages for one role send other roles home (the policy table still
    decides every read and write)."""
    principal = principal_or_none(request)
    if principal is None:
        raise LoginRequired()
    if roles and principal.actor.role not in roles:
        raise WrongRolePage(principal.actor.role, roles)
    return principal


class WrongRolePage(ApiError):
    code = "wrong_role_page"

    def __init__(self, role: Role, roles: tuple[Role, ...]) -> None:
        super().__init__(f"this page is for {', '.join(r.value for r in roles)}; you are signed in as {role.value}")
        self.role = role


def csrf_token(token: str) -> str:
    """Derived from the (HttpOnly) session token: a page can embed it, another site cannot know it."""
    return hmac.new(b"timeledger web csrf v1", token.encode("utf-8"), hashlib.sha256).hexdigest()


def check_same_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin is None:  # older browsers and same-origin GETs send none; the token still has to match
        return
    expected = f"{request.url.scheme}://{request.url.netloc}"
    if origin != expected:
        raise CsrfRefused("the request comes from another site")


def check_csrf(request: Request, sent: str | None) -> None:
    check_same_origin(request)
    token = session_token(request)
    if token is None:
        raise LoginRequired()
    if not sent or not hmac.compare_digest(sent, csrf_token(token)):
        raise CsrfRefused("the form is out of date or came from another site: reload the page and try again")


async def read_form(request: Request) -> FormData:
    """The posted form, after the CSRF check."""
    length = int(request.headers.get("content-length") or 0)
    if length > FORM_BYTES_MAX:
        raise TooLarge("the form is too large")
    form = await request.form(max_part_size=FORM_BYTES_MAX)
    value = form.get(CSRF_FIELD)
    check_csrf(request, value if isinstance(value, str) else None)
    return form


class TooLarge(ApiError):
    code = "request_too_large"


async def read_upload_form(request: Request, bytes_max: int, too_large: str) -> FormData:
    """A posted multipart form with files (at most `bytes_max` in all), after the CSRF check."""
    if int(request.headers.get("content-length") or 0) > bytes_max:
        raise InvalidInput(too_large)
    form = await request.form(max_part_size=64 * 1024)
    value = form.get(CSRF_FIELD)
    check_csrf(request, value if isinstance(value, str) else None)
    return form


def download(data: bytes, filename: str, media_type: str = "application/json") -> Response:
    """A file to save (never cached: statements, certificates and cards are signed when asked for)."""
    return Response(data, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


def commands_for(request: Request, principal: Principal, *, path: str, idempotency_key: str | None = None,
                 method: str = "POST") -> Commands:
    """The API's command runner for this principal. `path` is the API path the same command has, so
    an Idempotency-Key means the same thing here as there."""
    member_key = None
    if principal.actor.role is Role.MEMBER:  # the member's own key, unlocked by their sign-in
        member_key = services(request).auth.member_key(session_token(request))
    return Commands(services(request), principal.actor, method=method, path=path, idempotency_key=idempotency_key,
                    signing=Signing(), member_key=member_key)


async def in_thread(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run blocking ledger work (reads, or writes that wait for the group-commit writer) off the loop."""
    return await run_in_threadpool(function, *args, **kwargs)


# -- flash messages (one message carried across a redirect) -----------------------------------------------

def flash(response: Response, kind: str, text: str) -> Response:
    value = urllib.parse.quote(json.dumps({"kind": kind, "text": text[:1500]}, ensure_ascii=False))
    response.set_cookie(FLASH_COOKIE, value, max_age=60, httponly=True, samesite="lax", path="/")
    return response


def read_flash(request: Request) -> dict[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        value = loads_bounded(urllib.parse.unquote(raw))  # a cookie is client input: nested 990 deep was a 500
    except JsonInputError:
        return None
    if not isinstance(value, dict) or value.get("kind") not in ("ok", "warn", "error", "info"):
        return None
    return {"kind": str(value["kind"]), "text": str(value.get("text", ""))}


def redirect(url: str, *, kind: str | None = None, text: str = "") -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    if kind is not None:
        flash(response, kind, text)
    return response


def safe_next(target: str | None, default: str = "/") -> str:
    """Only local paths: no open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


# -- rendering ---------------------------------------------------------------------------------------------

NAV: list[tuple[str, str, tuple[Role, ...]]] = [
    ("/counter", "爱心超市收银台", (Role.COUNTER,)),
    ("/community", "社区工作台", (Role.COMMUNITY,)),
    ("/me", "我的", (Role.MEMBER,)),
    ("/resident", "居民点单", (Role.RESIDENT,)),
    ("/unit", "单位", (Role.UNIT,)),
    ("/audit", "审计核验", (Role.AUDITOR, Role.REGION)),
    ("/audit", "核验证明", (Role.UNIT, Role.COMMUNITY)),  # a certificate a member hands in
    ("/region", "全区概况", (Role.AUDITOR, Role.REGION)),
]


def display_name(request: Request) -> str:
    """The scheme's name is a region setting (default 爱心时间银行); an empty database has none yet."""
    ledger = services(request).ledger
    if ledger.region_code is None:
        return DEFAULT_NAME
    try:
        return ledger.get_region().display_name or DEFAULT_NAME
    except LedgerError:
        return DEFAULT_NAME


def page(request: Request, template: str, context: dict[str, Any] | None = None, *, status_code: int = 200,
         principal: Principal | None = None, title: str = "") -> HTMLResponse:
    lang = lang_of(request)
    gettext = translator(lang)
    token = session_token(request) if principal is not None else None
    role = principal.actor.role if principal is not None else None
    nav = [(href, gettext(label)) for href, label, roles in NAV if role is not None and role in roles]
    values: dict[str, Any] = {
        "request": request, "_": gettext, "lang": lang, "principal": principal, "role": role.value if role else None,
        "csrf": csrf_token(token) if token else "", "nav": nav, "site_name": gettext(display_name(request)),
        "title": gettext(title) if title else "", "path": request.url.path, "colon": ": " if lang == "en" else "：",
        "path_qs": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    }
    values["flash"] = read_flash(request)
    kept: FormState | None = getattr(request.state, "kept_form", None)
    values["form_state"] = lambda action: kept if kept is not None and kept.action == action else FormState(action)
    if kept is not None:  # a refused form, shown again with what was typed: the message on top too
        values["flash"] = {"kind": "error", "text": kept.message}
        status_code = kept.status if status_code == 200 else status_code
    values.update(context or {})
    response = templates.TemplateResponse(request, template, values, status_code=status_code)
    if request.cookies.get(FLASH_COOKIE):
        response.delete_cookie(FLASH_COOKIE, path="/")
    if request.query_params.get("lang") in i18n.LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax", path="/")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def error_page(request: Request, error: Exception, status_code: int) -> Response:
    lang = lang_of(request)
    gettext = translator(lang)
    principal = principal_or_none(request)
    message = i18n.error_text(error, lang)
    wants_json = request.headers.get("accept", "").startswith("application/json") or request.url.path.endswith(
        ("/balance", "/redeem"))
    if wants_json:
        code = getattr(error, "code", "invalid_request")
        return JSONResponse({"code": code, "detail": getattr(error, "detail", str(error))[:500], "message": message,
                             "messages": catalogue.messages(error)}, status_code=status_code)
    return page(request, "error.html", {"message": message, "status": status_code,
                                        "code": getattr(error, "code", "")},
                status_code=status_code, principal=principal, title=gettext("出错了"))


class WebRoute(APIRoute):
    """Pages answer refusals with a page: 401 → the sign-in form; any other refusal → its message."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except (LoginRequired, AuthenticationFailed):
                if request.method == "GET":
                    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                    response: Response = RedirectResponse("/login?next=" + urllib.parse.quote(target), status_code=303)
                else:
                    response = error_page(request, AuthenticationFailed("sign in again"), 401)
                response.delete_cookie(SESSION_COOKIE, path="/")
                return response
            except WrongRolePage as error:
                return error_page(request, error, 403)
            except REFUSALS as error:
                return error_page(request, error, http_status_of(error))
            except (RequestValidationError, ValidationError) as error:
                log.info("invalid input on %s: %s", request.url.path, type(error).__name__)
                return error_page(request, error, 422)

        return guarded


def may(request: Request, principal: Principal, action: str, object_id: UUID | str | None = None) -> bool:
    """Whether to show a link or button (the action itself is authorised again when it runs)."""
    return allowed(services(request).ledger, principal.actor, action, object_id)


def ledger_of(request: Request) -> Ledger:
    return services(request).ledger



# -- form posts: run a command, come back with a message ---------------------------------------------------

@dataclass
class FormState:
    """A form as the person left it. Blank (`posted` false) on a first visit: fields show their
    defaults. After a refused submit the page is rendered again (not redirected) with every typed
    value kept and each field's message beside it (`perform(…, again=…)`); the one-time `nonce` is
    not kept, so the corrected form is a new request. In a template:
    ``{% set f = form_state("/me/records") %}`` then ``value="{{ f.value('minutes', 120) }}"
    {{ f.invalid('minutes') }}`` and ``{{ f.error('minutes') }}`` after the input."""

    action: str
    values: dict[str, list[str]] = dataclass_field(default_factory=dict)
    errors: dict[str, str] = dataclass_field(default_factory=dict)
    message: str = ""
    status: int = 422
    posted: bool = False

    def value(self, name: str, default: Any = "") -> Any:
        if not self.posted:
            return default
        found = self.values.get(name)
        return found[0] if found else ""

    def chosen(self, name: str, option: Any, default: bool = False) -> bool:
        """For a checkbox, radio button or <option>: ticked as typed, or `default` on a first visit."""
        if not self.posted:
            return default
        return str(option) in self.values.get(name, [])

    def error(self, name: str) -> Markup:
        text = self.errors.get(name)
        if not text:
            return Markup("")
        return Markup('<p class="field-error" id="error-{0}" role="alert">{1}</p>').format(name, text)

    def invalid(self, name: str) -> Markup:
        if name not in self.errors:
            return Markup("")
        return Markup(' aria-invalid="true" aria-describedby="error-{0}"').format(escape(name))

    def other_errors(self) -> list[str]:
        """Messages for fields the form does not show (they still reach the person, on top)."""
        return list(self.errors.values())


def keep_form(request: Request, form: FormData, error: Exception) -> FormState:
    """Remember the refused form on the request, for the page rendered again (see `FormState`)."""
    lang = lang_of(request)
    values = {key: [v.strip() for v in form.getlist(key) if isinstance(v, str)] for key in form.keys()
              if key not in (CSRF_FIELD, "nonce")}
    status = http_status_of(error) if isinstance(error, REFUSALS) else 422
    kept = FormState(action=request.url.path, values=values, errors=catalogue.field_errors(error, lang),
                     message=catalogue.message(error, lang), status=status, posted=True)
    request.state.kept_form = kept
    return kept

def field(form: FormData, name: str, *, required: bool = True, chars_max: int = 2000) -> str:
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise InvalidInput(f"{name}: required", field=name, reason="required")
    if len(text) > chars_max:
        raise InvalidInput(f"{name}: at most {chars_max} characters", field=name, reason="too_long",
                           params={"chars_max": chars_max})
    return text


def uuid_field(form: FormData | dict[str, Any], name: str) -> UUID:
    value = form.get(name)
    try:
        return UUID(str(value).strip())
    except ValueError:
        raise InvalidInput(f"{name}: not a valid id", field=name, reason="not_an_id") from None


def date_field(form: FormData, name: str) -> date:
    text = field(form, name, chars_max=10)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{name}: a date YYYY-MM-DD", field=name, reason="not_a_date") from None


def parse_uuid(value: str, what: str = "id", *, field: str | None = None) -> UUID:
    try:
        return UUID(value.strip())
    except (ValueError, AttributeError):
        raise InvalidInput(f"{what}: not a valid id", field=field, reason="not_an_id") from None


def form_key(form: FormData, suffix: str = "") -> str | None:
    """The form's one-time id (rendered into it) as the Idempotency-Key: a double submit replays."""
    nonce = form.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        return None
    key = f"{nonce[:40]}{':' + suffix if suffix else ''}"
    return key[:128]


async def perform(request: Request, run: Callable[[], Any], *, back: str, ok: str, form: FormData | None = None,
                  again: Callable[[], Response] | None = None) -> Response:
    """Run `run()` (which calls API router functions with `commands_for`) off the event loop, then
    redirect to `back` with a success message. A refusal: with `form` and `again` (the page's GET
    handler, called as is) the page is rendered again with everything typed kept and the message
    next to its field; without, back to `back` with the message on top."""
    lang = lang_of(request)
    gettext = translator(lang)
    try:
        result = await in_thread(run)
    except (*REFUSALS, ValidationError) as error:
        if isinstance(error, AuthenticationFailed) and error.code in ("not_authenticated", "token_expired",
                                                                      "token_revoked"):
            raise
        if form is not None and again is not None:
            keep_form(request, form, error)
            response: Response = await in_thread(again)
            return response
        return redirect(back, kind="error", text=i18n.error_text(error, lang))
    if isinstance(result, tuple):  # ("error", text): nothing (or not everything) was done
        return redirect(back, kind=result[0], text=result[1])
    message = result if isinstance(result, str) and result else gettext(ok)
    return redirect(back, kind="ok", text=message)


M = TypeVar("M", bound=BaseModel)


def json_refusal(error: Any, lang: str, extra: dict[str, Any] | None = None) -> JSONResponse:
    """A refusal as a page's script reads it: the stable code, the message in the page's language."""
    return JSONResponse({"code": error.code, "detail": error.detail[:500], "message": i18n.error_text(error, lang),
                         **(extra or {})}, status_code=http_status_of(error))


async def json_command(request: Request, role: Role, model: type[M], *, bytes_max: int, too_large: LedgerError,
                       invalid: LedgerError, run: Callable[[Any, M, str], Response]) -> Response:
    """What a page's JSON command does around the API's own function (the counter's, the venue's offline
    sync): the role's session and the CSRF header, a bounded body read as the API's model,
    `run(principal, body, lang)` in a worker thread, a refusal in the page's language, never cached."""
    principal = require_principal(request, role)
    check_csrf(request, request.headers.get(CSRF_HEADER))
    lang = lang_of(request)
    raw = await request.body()
    if len(raw) > bytes_max:
        return json_refusal(too_large, lang)
    try:
        body = model.model_validate_json(raw)
    except ValidationError:
        return json_refusal(invalid, lang)

    def job() -> Response:
        try:
            return run(principal, body, lang)
        except REFUSALS as error:
            return json_refusal(error, lang)

    response: Response = await in_thread(job)
    response.headers["Cache-Control"] = "no-store"
    return response
