"""OpenID Connect for SMART apps (issue 4): the id_token, its signing key and the published JWKS.

SMART App Launch v2 (scopes-and-launch-context.html#scopes-for-requesting-identity-data): with the ``openid``
and ``fhirUser`` scopes the token response carries an ``id_token`` whose ``fhirUser`` claim is the absolute URL
of the user's FHIR resource (here ``Practitioner``).  OpenID Connect Core §3.1.3.7: ``iss`` is the issuer
(the base URL published in ``.well-known/smart-configuration``), ``aud`` the client id, ``nonce`` echoed
from the authorization request; signed with RS256 (the algorithm SMART requires servers to support).

The RSA key pair is generated once, by the first process that needs it, and kept in the database
(``oauth_signing_key``) so every stateless worker signs with and publishes the same key.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from joserfc import jwt
from joserfc.jwk import RSAKey

from benhan.kernel import clock
from benhan.kernel.ids import new_id
from benhan.web.session import Authenticator

ALG = "RS256"


class SigningKeys:
    """The keys loaded from the database, once per process (``app.state``)."""

    def __init__(self) -> None:
        self._keys: list[RSAKey] = []

    async def load(self, auth: Authenticator) -> list[RSAKey]:
        if not self._keys:
            stored = await auth.store.signing_keys()
            if not stored:
                key = RSAKey.generate_key(2048, parameters={"kid": new_id(), "use": "sig", "alg": ALG})
                await auth.store.add_signing_key(str(key.kid), orjson.dumps(key.as_dict(private=True)).decode(),
                                                 clock.now())
                stored = await auth.store.signing_keys()
            self._keys = [RSAKey.import_key(orjson.loads(raw)) for raw in stored]
        return self._keys

    async def jwks(self, auth: Authenticator) -> dict[str, Any]:
        """The public keys only (RFC 7517), for ``jwks_uri``."""
        return {"keys": [key.as_dict(private=False) for key in await self.load(auth)]}

    async def id_token(self, auth: Authenticator, claims: dict[str, Any], seconds: int) -> str:
        key = (await self.load(auth))[0]
        now = int(time.time())
        body = {**{k: v for k, v in claims.items() if v is not None}, "iat": now, "exp": now + seconds}
        return jwt.encode({"alg": ALG, "kid": key.kid, "typ": "JWT"}, body, key, algorithms=[ALG])

