"""Remembered app approvals (SMART App Launch, issue 4): a user's "Allow" of an app for a set of scopes is
kept for ``tokens.approval_days`` (policy; 90 days by default), so the consent screen is not shown again while
the app asks for no more than that (RFC 6749 §10.2 leaves repeated consent to the server's policy).

Kept only for a decision the user made on the consent screen (a POST with the session's CSRF token); a
request for any scope outside the approval shows the screen again, and its "Allow" replaces the approval.
The user revokes approvals at ``/account/apps`` (``benhan.web.routes.account_apps``); disabling the client
removes them all (``IdentityStore.set_client_disabled``).  Approving and revoking are audited as security
events (``app-approve``, ``app-revoke``)."""

from __future__ import annotations

from datetime import timedelta

from benhan.fhir.storage.access_types import AuditInfo
from benhan.kernel import clock
from benhan.kernel.context import RequestContext
from benhan.web.session import Authenticator


async def remembered(auth: Authenticator, user_id: str, client_id: str, scopes: list[str]) -> bool:
    """True when an unexpired approval of the client by the user covers every requested scope."""
    row = await auth.store.approval(user_id, client_id, clock.now())
    return row is not None and set(scopes) <= set(row["scopes"])


async def remember(auth: Authenticator, ctx: RequestContext, client_id: str, scopes: list[str]) -> None:
    if ctx.user_id is None:
        return
    now = clock.now()
    expires = now + timedelta(days=auth.cfg.tokens.get("approval_days", 90))
    await auth.store.save_approval(ctx.user_id, client_id, sorted(set(scopes)), now, expires)
    await auth.audit(ctx, AuditInfo("app-approve", detail=f"{client_id}: {' '.join(sorted(set(scopes)))}"))


async def revoke(auth: Authenticator, ctx: RequestContext, client_id: str) -> bool:
    """Forget the user's approval of the client and revoke the tokens it holds for them."""
    if ctx.user_id is None or not await auth.store.revoke_approval(ctx.user_id, client_id):
        return False
    auth.forget_tokens(user_id=ctx.user_id)
    await auth.audit(ctx, AuditInfo("app-revoke", detail=client_id))
    return True
