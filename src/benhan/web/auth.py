"""Login, logout, facility switch and break-the-glass over HTTP, and the middleware that turns a bearer token
or a session cookie into the request context (issue 4).

- ``AuthMiddleware`` resolves the caller once per request and puts the context on ``scope["benhan.ctx"]``
  (read it with :func:`context_of`); the FHIR API (``benhan.fhir.api``, not behind the middleware) resolves
  it with :func:`fhir_caller` from the same bearer token or cookie, by the same rules.
- Cookies: ``benhan_session`` is HttpOnly, SameSite=Lax, Secure over HTTPS (always in production).
- CSRF: unsafe requests authenticated by the cookie must send the session's token in ``X-CSRF-Token`` or a
  ``csrf_token`` form field (:func:`csrf_ok`); the login form uses a double-submit cookie.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from starlette.requests import Request, cookie_parser
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from benhan.access.identity import new_secret
from benhan.kernel.context import RequestContext
from benhan.kernel.errors import BenhanError, ErrorCode
from benhan.web.session import SESSION_COOKIE, Authenticator, LoginResult, Resolved

LOGIN_CSRF_COOKIE = "benhan_login_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MESSAGES = {  # (Vietnamese, English)
    "bad_credentials": ("Tên đăng nhập hoặc mật khẩu không đúng.", "Wrong username or password."),
    "locked": (
        "Tài khoản tạm khoá do đăng nhập sai nhiều lần. Vui lòng thử lại sau.",
        "Too many failed attempts: the account is locked for a while. Try again later.",
    ),
    "totp_required": ("Nhập mã xác thực 6 số từ ứng dụng xác thực.", "Enter the 6-digit code from your app."),
    "totp_invalid": ("Mã xác thực không đúng.", "The verification code is wrong."),
    "totp_enrolment": (
        "Vai trò của bạn bắt buộc xác thực hai lớp (TOTP). Liên hệ quản trị viên để đăng ký.",
        "Your role requires two-factor authentication (TOTP). Ask an administrator to enrol you.",
    ),
    "no_role": ("Bạn không có vai trò tại cơ sở hoặc khoa đã chọn.", "You hold no role at the chosen facility."),
    "csrf": ("Phiên biểu mẫu đã hết hạn. Vui lòng tải lại trang.", "The form expired. Reload the page."),
}


def header_dict(scope: Scope) -> dict[str, str]:
    """The request's headers by lower-case name (a repeated header: the last one)."""
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def who_of(headers: Mapping[str, str], client: tuple[str, int] | None) -> RequestContext:
    """Where a request comes from (remote address, user agent, request id): part of every audit record."""
    return RequestContext(
        remote_addr=client[0] if client else None,
        user_agent=headers.get("user-agent"),
        # 128 random bits as 32 hex digits, as uuid4().hex has them, without building a UUID object
        request_id=headers.get("x-request-id") or os.urandom(16).hex(),
    )


def _who(scope: Scope) -> RequestContext:
    return who_of(header_dict(scope), scope.get("client"))


async def resolve(auth: Authenticator, headers: Mapping[str, str], who: RequestContext) -> Resolved | None:
    """The caller named by a bearer token (first) or the session cookie, or None."""
    header = headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return await auth.from_bearer(header[7:].strip(), who)
    cookie_header = headers.get("cookie")
    cookie = cookie_parser(cookie_header).get(SESSION_COOKIE) if cookie_header else None
    if cookie:
        return await auth.from_session(cookie, who)
    return None


class AuthMiddleware:
    """Resolve the caller of every HTTP request (one indexed query when a token or cookie is sent).

    /fhir does not pass here: ``benhan.fhir.api`` serves it and resolves its caller with :func:`fhir_caller`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            auth: Authenticator | None = getattr(scope["app"].state, "auth", None)
            resolved = None
            if auth is not None:
                headers = header_dict(scope)
                resolved = await resolve(auth, headers, who_of(headers, scope.get("client")))
            scope["benhan.auth"] = resolved
            scope["benhan.ctx"] = resolved.ctx if resolved else None
        await self.app(scope, receive, send)


def resolved_of(request: Request) -> Resolved | None:
    found = request.scope.get("benhan.auth")
    return found if isinstance(found, Resolved) else None


def context_of(request: Request) -> RequestContext | None:
    """The signed-in caller's context, or None (pages then redirect to /login)."""
    resolved = resolved_of(request)
    return resolved.ctx if resolved else None


def csrf_matches(resolved: Resolved | None, given: str | None) -> bool:
    """True for bearer-token callers and for session callers that sent the session's CSRF token."""
    if resolved is None or resolved.csrf is None:
        return True
    return secrets.compare_digest((given or "").encode(), resolved.csrf.encode())


def csrf_ok(request: Request, supplied: str | None = None) -> bool:
    """True for bearer-token requests and for cookie requests carrying the session's CSRF token."""
    return csrf_matches(resolved_of(request), supplied or request.headers.get("x-csrf-token"))


async def fhir_caller(
    auth: Authenticator | None, headers: Mapping[str, str], client: tuple[str, int] | None, method: str, path: str
) -> RequestContext:
    """The caller of a /fhir request (``path`` is below ``/fhir/``): 401 without credentials (except for the
    CapabilityStatement), 403 when a cookie-authenticated unsafe request lacks the session's CSRF token."""
    who = who_of(headers, client)
    resolved = await resolve(auth, headers, who) if auth is not None else None
    if path == "metadata" and method in SAFE_METHODS:
        return resolved.ctx if resolved else who
    if resolved is None:
        raise BenhanError(
            ErrorCode.UNAUTHENTICATED,
            "Sign in, or send a valid bearer token",
            headers={"WWW-Authenticate": 'Bearer realm="benhan", error="invalid_token"'},
        )
    if method not in SAFE_METHODS and not csrf_matches(resolved, headers.get("x-csrf-token")):
        raise BenhanError(ErrorCode.FORBIDDEN, "The CSRF token is missing or wrong")
    return resolved.ctx


# -- routes -------------------------------------------------------------------------------------------
def _auth(request: Request) -> Authenticator:
    auth: Authenticator = request.app.state.auth
    return auth


def _secure(request: Request) -> bool:
    settings = request.app.state.settings
    return request.url.scheme == "https" or settings.mode == "production"


def _is_json(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip() == "application/json"


async def _payload(request: Request) -> dict[str, Any]:
    if _is_json(request):
        try:
            data = await request.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _message(reason: str, request: Request) -> str:
    vi, en = MESSAGES.get(reason, MESSAGES["bad_credentials"])
    return en if request.cookies.get("lang") == "en" else vi


def _safe_next(value: Any) -> str:
    """Only same-site relative paths (no open redirect)."""
    text = str(value or "/")
    return text if text.startswith("/") and not text.startswith("//") and "\\" not in text else "/"


async def login_page(request: Request, reason: str | None = None, status: int = 200) -> Response:
    from benhan.web.templating import render

    token = request.cookies.get(LOGIN_CSRF_COOKIE) or new_secret(16)
    ctx = {
        "csrf_token": token,
        "next": _safe_next(request.query_params.get("next")),
        "error": _message(reason, request) if reason else None,
        "need_totp": reason == "totp_required",
    }
    response = render(request, "auth/login.html", ctx, status=status)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request))
    return response


async def login(request: Request) -> Response:
    data = await _payload(request)
    json_api = _is_json(request)
    if not json_api and not secrets.compare_digest(
        str(data.get("csrf_token", "")).encode(), (request.cookies.get(LOGIN_CSRF_COOKIE) or "-").encode()
    ):
        return await login_page(request, "csrf", 403)
    result = await _auth(request).login(
        str(data.get("username", "")),
        str(data.get("password", "")),
        data.get("totp") or None,
        data.get("facility_id") or None,
        data.get("department_id") or None,
        _who(request.scope),
    )
    if not result.ok:
        return await _login_failed(request, result, json_api)
    assert result.session_token is not None
    assert result.ctx is not None
    response: Response
    if json_api:
        response = JSONResponse({"csrf_token": result.csrf, **_session_json(result.ctx)})
    else:
        response = RedirectResponse(_safe_next(data.get("next")), status_code=303)
    response.set_cookie(
        SESSION_COOKIE, result.session_token, httponly=True, samesite="lax", secure=_secure(request), path="/"
    )
    return response


async def _login_failed(request: Request, result: LoginResult, json_api: bool) -> Response:
    status = {"locked": 429, "totp_enrolment": 403, "no_role": 403}.get(result.reason, 401)
    headers = {"Retry-After": str(result.retry_after)} if result.reason == "locked" and result.retry_after else {}
    if json_api:
        body = {"error": result.reason, "message": _message(result.reason, request)}
        return JSONResponse(body, status_code=status, headers=headers)
    response = await login_page(request, result.reason, status)
    response.headers.update(headers)
    return response


def _session_json(ctx: RequestContext) -> dict[str, Any]:
    return {
        "user": {"id": ctx.user_id, "username": ctx.username, "practitioner_id": ctx.practitioner_id},
        "facility_id": ctx.facility_id,
        "department_id": ctx.department_id,
        "roles": sorted(ctx.roles),
        "break_glass": {
            "reason": ctx.break_glass_reason,
            "until": ctx.extra.get("btg_until"),
            "patient_id": ctx.extra.get("btg_patient"),
        }
        if ctx.break_glass_reason
        else None,
    }


async def _session_or_401(request: Request) -> tuple[Resolved | None, Response | None]:
    resolved = resolved_of(request)
    if resolved is None or resolved.session_hash is None:
        return None, JSONResponse({"error": "unauthenticated"}, status_code=401)
    return resolved, None


async def session_info(request: Request) -> Response:
    resolved, denied = await _session_or_401(request)
    if denied is not None or resolved is None:
        return denied or Response(status_code=401)
    grants = await _auth(request).store.grants(resolved.ctx.user_id or "")
    choices = sorted({(f, d) for _r, f, d in grants}, key=lambda fd: (fd[0], fd[1] or ""))
    return JSONResponse(
        {
            "csrf_token": resolved.csrf,
            **_session_json(resolved.ctx),
            "choices": [{"facility_id": f, "department_id": d} for f, d in choices],
        }
    )


async def _checked(request: Request) -> tuple[Resolved | None, dict[str, Any], Response | None]:
    resolved, denied = await _session_or_401(request)
    data = await _payload(request)
    if denied is not None:
        return None, data, denied
    if not csrf_ok(request, data.get("csrf_token")):
        return None, data, JSONResponse({"error": "csrf", "message": _message("csrf", request)}, status_code=403)
    return resolved, data, None


async def logout(request: Request) -> Response:
    resolved, data, denied = await _checked(request)
    if denied is not None or resolved is None:
        return denied or Response(status_code=401)
    everywhere = str(data.get("everywhere", "")).lower() in ("1", "true", "on", "yes")
    await _auth(request).logout(resolved, everywhere)
    response: Response = JSONResponse({"ok": True}) if _is_json(request) else RedirectResponse("/login", 303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def switch(request: Request) -> Response:
    resolved, data, denied = await _checked(request)
    if denied is not None or resolved is None:
        return denied or Response(status_code=401)
    ok = await _auth(request).switch(resolved, str(data.get("facility_id", "")), data.get("department_id") or None)
    if not ok:
        return JSONResponse({"error": "no_role", "message": _message("no_role", request)}, status_code=403)
    if not _is_json(request):
        return RedirectResponse(_safe_next(data.get("next")), status_code=303)
    return JSONResponse({"ok": True})


async def break_glass(request: Request) -> Response:
    resolved, data, denied = await _checked(request)
    if denied is not None or resolved is None:
        return denied or Response(status_code=401)
    until = await _auth(request).break_glass(resolved, str(data.get("reason", "")), data.get("patient_id") or None)
    if until is None:
        return JSONResponse(
            {"error": "break_glass_refused", "message": "Cần vai trò lâm sàng và lý do (ít nhất 10 ký tự)."},
            status_code=403,
        )
    return JSONResponse({"ok": True, "until": until.isoformat()})


def login_redirect(request: Request) -> RedirectResponse:
    """For pages: send an anonymous visitor to the login page and back."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


def auth_routes() -> list[Route]:
    return [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/session", session_info, methods=["GET"]),
        Route("/session/switch", switch, methods=["POST"]),
        Route("/session/break-glass", break_glass, methods=["POST"]),
    ]
