"""``/oauth2/authorize`` with the SMART App Launch v2 launch context, the patient picker and the consent
screen; ``POST /oauth2/launch`` mints an EHR launch context (issue 4).

- **EHR launch** (app-launch.html#launch-app-ehr-launch): the web app mints an opaque ``launch`` id bound to
  the signed-in user, a patient and optionally an encounter (``POST /oauth2/launch``; short-lived,
  single-use) and opens the app's launch URL with ``iss`` and ``launch``; the app passes ``launch`` back here.
- **Standalone launch** with ``launch/patient`` (app-launch.html#launch-app-standalone-launch): after sign-in
  the user picks the patient among those the access policy lets them see (a search through the repository,
  so it is filtered and audited like any other).
- **Consent**: the user sees the app's name, the scopes in plain words and the patient, then approves
  (a code is issued) or denies (RFC 6749 §4.1.2.1: redirect with ``error=access_denied``).
- **Remembered approvals** (``benhan.web.oauth_approvals``): while the user's approval of the app covers
  the requested scopes, an EHR launch or a request without patient context gets its code at once; a
  standalone launch still shows the picker, whose choice (a POST with the CSRF token) then issues the code.
  A patient named in the app's own URL is never enough to skip the screen: the user chooses the patient.

Opening the chosen patient is a read through the repository as the user: refused and audited like any read.
The launch context is single-use: the user's decision (approve or deny) uses it up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from authlib.oauth2 import OAuth2Error
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from benhan.access import identity as ident
from benhan.clinical.app_launch import LaunchSubject, launch_subject
from benhan.clinical.registration import find_patients
from benhan.kernel import clock
from benhan.kernel.errors import BenhanError
from benhan.web import oauth_approvals
from benhan.web.auth import csrf_ok, login_redirect, resolved_of
from benhan.web.deps import repo_of
from benhan.web.oauth_common import auth_of, auth_server, base_url, prefetch, public_uri
from benhan.web.oauth_server import BenhanAuthServer, OAuthRequest, Work
from benhan.web.scope_text import describe
from benhan.web.session import Resolved
from benhan.web.templating import language, render

#: the authorization request's parameters (RFC 6749 §4.1.1, RFC 7636, SMART ``aud`` and ``launch``, OIDC nonce)
OAUTH_PARAMS = ("response_type", "client_id", "redirect_uri", "scope", "state", "aud", "code_challenge",
                "code_challenge_method", "launch", "nonce")
NO_STORE = {"Cache-Control": "no-store"}
#: the picker and consent pages must not be framed by another site (clickjacking, RFC 6819 §4.4.1.9)
NO_FRAME = {**NO_STORE, "X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'"}


@dataclass
class _Checked:
    """An authorization request Authlib validated (client, redirect URI, response type, PKCE)."""

    params: dict[str, str]
    req: OAuthRequest
    server: BenhanAuthServer
    grant: Any
    scopes: list[str]
    client_name: str


def _bad(description: str) -> Response:
    # Before the redirect URI is validated an error must not redirect (RFC 6749 §4.1.2.1).
    return JSONResponse({"error": "invalid_request", "error_description": description}, 400)


async def _check(request: Request, params: dict[str, str], user_id: str) -> _Checked | Response:
    if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
        return _bad("PKCE with S256 is required")
    aud = params.get("aud")
    if aud and aud.rstrip("/") != f"{base_url(request)}/fhir":  # SMART v2: aud names this FHIR server
        return _bad("aud is not this FHIR server")
    uri = public_uri(request).split("?", 1)[0] + "?" + urlencode(params)
    req, work = OAuthRequest("GET", uri, request.headers, {}, params), Work()
    await prefetch(auth_of(request), req, work)
    server = auth_server(request, work)
    try:
        grant = server.get_consent_grant(req, end_user={"user_id": user_id})
    except OAuth2Error as err:  # never redirect to an unvalidated redirect_uri
        return JSONResponse({"error": err.error, "error_description": err.description}, status_code=400)
    scopes = grant.client.get_allowed_scope(grant.request.payload.scope or "").split()
    return _Checked(params, req, server, grant, scopes, str(grant.client.row["name"]))


def _error_redirect(checked: _Checked, error: str, description: str) -> Response:
    query = {"error": error, "error_description": description}
    if checked.params.get("state"):
        query["state"] = checked.params["state"]
    uri = str(checked.grant.redirect_uri)
    return RedirectResponse(f"{uri}{'&' if '?' in uri else '?'}{urlencode(query)}", status_code=302)


async def _launch_ids(
    request: Request, checked: _Checked, resolved: Resolved, source: dict[str, str], *, take: bool
) -> tuple[str, str | None] | Response | None:
    """(patient, encounter) of the launch; None when the user must still pick one; a Response on error."""
    launch = checked.params.get("launch")
    if launch:  # EHR launch: the context the web app minted for this user
        row = await auth_of(request).store.launch(ident.secret_hash(launch), str(resolved.ctx.user_id),
                                                  clock.now(), take=take)
        if row is None:
            return _error_redirect(checked, "invalid_request", "The launch context is unknown, expired or used")
        return str(row["patient_id"]), row["encounter_id"]
    if "launch/patient" in checked.scopes:  # standalone launch: the picker's choice
        return (source["patient"], None) if source.get("patient") else None
    return "", None


async def authorize(request: Request) -> Response:
    """GET: the app's request → picker or consent screen; POST: the user's decision."""
    resolved = resolved_of(request)
    if resolved is None or resolved.session_hash is None or resolved.ctx.user_id is None:
        return login_redirect(request)
    post = request.method == "POST"
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)} if post else {}
    if post and not csrf_ok(request, form.get("csrf_token")):
        return render(request, "pages/error.html", {"status": 403, "code": "BH-4003"}, status=403)
    source = form if post else dict(request.query_params)
    params = {k: source[k] for k in OAUTH_PARAMS if source.get(k)}
    checked = await _check(request, params, resolved.ctx.user_id)
    if isinstance(checked, Response):
        return checked
    remembered = await oauth_approvals.remembered(auth_of(request), resolved.ctx.user_id,
                                                  checked.grant.client.get_client_id(), checked.scopes)
    # a standalone launch's patient comes from the picker's POST, never from the app's URL
    silent = remembered and not post and ("launch/patient" not in checked.scopes or "launch" in checked.params)
    ids = await _launch_ids(request, checked, resolved, source, take=post or silent)
    if isinstance(ids, Response):
        return ids
    if post and source.get("decision") != "allow":
        # RFC 6749 §4.1.2.1: the user refused → access_denied at the app's redirect URI.
        denied: Response = checked.server.create_authorization_response(checked.req, grant_user=None,
                                                                        grant=checked.grant)
        return denied
    if ids is None:
        return await _picker(request, checked, resolved, source.get("q", ""), None, remembered=remembered)
    subject: LaunchSubject | None = None
    if ids[0]:
        try:
            subject = await launch_subject(repo_of(request), resolved.ctx, ids[0], ids[1])
        except BenhanError:  # not visible to this user (the refusal is audited by the repository)
            if checked.params.get("launch"):
                return _error_redirect(checked, "invalid_request", "The launch patient is not available")
            return await _picker(request, checked, resolved, source.get("q", ""), "not_visible",
                                 remembered=remembered)
    if not (post or silent):
        return _consent(request, checked, resolved, subject)
    if post and not remembered:  # the user's decision on the consent screen
        await oauth_approvals.remember(auth_of(request), resolved.ctx, checked.grant.client.get_client_id(),
                                       checked.scopes)
    return await _issue_code(request, checked, resolved, subject)


async def _picker(
    request: Request, checked: _Checked, resolved: Resolved, q: str, error: str | None, *, remembered: bool
) -> Response:
    """With a remembered approval the choice is posted as the decision (no consent screen follows)."""
    found = await find_patients(repo_of(request), resolved.ctx, q) if q.strip() else []
    ctx = {"client_name": checked.client_name, "params": checked.params, "q": q, "patients": found,
           "searched": bool(q.strip()), "error": error, "remembered": remembered, "csrf_token": resolved.csrf}
    return render(request, "auth/app_patient.html", ctx, headers=NO_FRAME)


def _consent(request: Request, checked: _Checked, resolved: Resolved, subject: LaunchSubject | None) -> Response:
    lang = language(request)
    ctx = {"client_name": checked.client_name, "client_id": checked.grant.client.get_client_id(),
           "params": checked.params, "scopes": [(s, describe(s, lang)) for s in checked.scopes],
           "subject": subject, "csrf_token": resolved.csrf,
           "approval_days": auth_of(request).cfg.tokens.get("approval_days", 90),
           "redirect_host": urlsplit(str(checked.grant.redirect_uri)).netloc or checked.grant.redirect_uri}
    return render(request, "auth/app_consent.html", ctx, headers=NO_FRAME)


async def _issue_code(
    request: Request, checked: _Checked, resolved: Resolved, subject: LaunchSubject | None
) -> Response:
    auth, ctx = auth_of(request), resolved.ctx
    response: Response = checked.server.create_authorization_response(
        checked.req, grant_user={"user_id": ctx.user_id}, grant=checked.grant
    )
    if checked.server.work.new_code is not None:
        code, creq = checked.server.work.new_code
        ttl = auth.cfg.tokens.get("code_seconds", 60)
        await auth.store.save_code(
            ident.secret_hash(code),
            {
                "client_id": creq.payload.client_id,
                "user_id": ctx.user_id,
                "redirect_uri": creq.payload.redirect_uri or "",
                "scope": " ".join(checked.scopes),
                "code_challenge": checked.params["code_challenge"],
                "code_challenge_method": "S256",
                "facility_id": ctx.facility_id,
                "department_id": ctx.department_id,
                "patient_id": subject.patient_id if subject else None,
                "encounter_id": subject.encounter_id if subject else None,
                "nonce": checked.params.get("nonce"),
                "expires": clock.now() + timedelta(seconds=ttl),
            },
        )
    return response


async def mint_launch(request: Request) -> Response:
    """``POST /oauth2/launch {patient_id, encounter_id?}`` (session + CSRF): an EHR launch context for an
    app opened from the chart.  Answers ``{launch, iss, expires_in}``; the app's launch URL is then opened
    with ``?iss=…&launch=…`` (SMART app-launch.html#launch-app-ehr-launch)."""
    resolved = resolved_of(request)
    if resolved is None or resolved.session_hash is None or resolved.ctx.user_id is None:
        return JSONResponse({"error": "login_required"}, status_code=401)
    try:
        is_json = request.headers.get("content-type", "").startswith("application/json")
        data = await request.json() if is_json else dict(await request.form())
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return JSONResponse({"error": "invalid_request", "error_description": "a JSON object is expected"}, 400)
    if not csrf_ok(request, str(data.get("csrf_token") or "") or None):
        return JSONResponse({"error": "csrf"}, status_code=403)
    patient_id, encounter_id = str(data.get("patient_id") or ""), str(data.get("encounter_id") or "") or None
    if not patient_id:
        return JSONResponse({"error": "invalid_request", "error_description": "patient_id is required"}, 400)
    try:  # the user must be able to open the patient (and encounter) now; audited as a read
        subject = await launch_subject(repo_of(request), resolved.ctx, patient_id, encounter_id)
    except BenhanError as err:
        return JSONResponse({"error": "invalid_request", "error_description": err.message}, err.status)
    auth, launch = auth_of(request), ident.new_secret()
    ttl = auth.cfg.tokens.get("launch_seconds", 300)
    await auth.store.save_launch(ident.secret_hash(launch), {
        "user_id": resolved.ctx.user_id, "patient_id": subject.patient_id, "encounter_id": subject.encounter_id,
        "expires": clock.now() + timedelta(seconds=ttl),
    }, clock.now())
    body = {"launch": launch, "iss": f"{base_url(request)}/fhir", "expires_in": ttl}
    return JSONResponse(body, headers=NO_STORE)


def authorize_routes() -> list[Route]:
    return [
        Route("/oauth2/authorize", authorize, methods=["GET", "POST"]),
        Route("/oauth2/launch", mint_launch, methods=["POST"]),
    ]
