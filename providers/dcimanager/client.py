"""DCImanager's HTTP conversation: session auth, login, and what its answers mean.

Every call carries the seed's three-part session auth: cookie ``ses6=<session>``, header
``x-xsrf-token: <session>`` and ``isp-box-instance: true`` (seed, every curl example). The
session is configured, or obtained by logging in with email and password. A 503 (a suspended
platform) is retried by the transport's one retry loop, with the kind's own defaults
(``providers/dcimanager/options.py``).

Example:
    client = DciClient(provider.config, provider.http)
    servers = (await client.get("/api/dci/v3/server", what="Server list"))["list"]
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from errors import NotAuthorized, ProviderUnavailable, quoted
from providers.base import ProviderConfig
from providers.http import UpstreamClient, refused

__all__ = ["LOGIN_PATH", "DciClient"]

#: NOT in the seed, which only says "log in to DCImanager and get the code of the current
#: user session. Read more in API guide". ISPsystem's guide names an ``auth`` service at
#: v4; clients of VMmanager 6 (same platform) log in here with ``{"email", "password"}``
#: and read ``token``. An assumption kept in this one place.
LOGIN_PATH = "/api/auth/v4/public/token"

_REFUSED = (401, 403)
_INVALID = (400, 409, 422)
# ISPsystem's API guide, "How to process code 503": a platform service idle for long is
# suspended and answers 503; "repeat the requests until another code is received" (the
# transport does, for reads and the login).
_SUSPENDED = 503


class DciClient:
    """One DCImanager installation: the provider's transport plus the current session."""

    def __init__(self, config: ProviderConfig, http: UpstreamClient) -> None:
        self.provider_id = config.id
        self._http = http
        self._email = config.credentials.get("email")
        self._password = config.credentials.get("password")
        self._session: str | None = config.credentials.get("session")
        self._lock = asyncio.Lock()

    @property
    def can_login(self) -> bool:
        """Whether email and password are configured (so an expired session is renewable)."""
        return bool(self._email and self._password)

    async def get(
        self, path: str, *, what: str, resource: str | None = "servers"
    ) -> dict[str, Any]:
        """GET a JSON object (503 is retried by the transport); ``what`` names it in NOT_FOUND.

        ``resource`` is the cache class of the read (see ``providers.cache.DEFAULT_TTLS``;
        ``None``: never cached).
        """
        return await self._call("GET", path, what=what, write=False, resource=resource)

    async def post(self, path: str, body: dict[str, Any], *, what: str) -> dict[str, Any]:
        """POST once (never retried on failure: an action must not run twice)."""
        return await self._call("POST", path, what=what, write=True, json=body)

    # --- session --------------------------------------------------------------------

    async def _call(self, method: str, path: str, *, what: str, write: bool, **kwargs: Any):
        session = self._session or await self._renew(None)
        response = await self._send(method, path, session, write=write, **kwargs)
        if response.status_code in _REFUSED and self.can_login:
            # The session expired or was revoked: log in again once and repeat the call
            # once, never more. Repeating a write is safe here: a refused request never ran.
            session = await self._renew(session)
            response = await self._send(method, path, session, write=write, **kwargs)
        return self._decode(response, what=what, write=write)

    async def _renew(self, stale: str | None) -> str:
        async with self._lock:
            if self._session is not None and self._session != stale:
                return self._session  # a concurrent call has already logged in again
            self._session = await self._login()
            return self._session

    async def _login(self) -> str:
        if not self.can_login:
            raise self._refused()
        response = await self._send(
            "POST",
            LOGIN_PATH,
            None,
            # The one POST that is retried, by decision: creating a session changes nothing the
            # gateway shows, and a suspended platform answers logins 503 like any call.
            write=False,
            retry=True,
            resource=None,  # never cached: each login must reach the upstream for a session
            json={"email": self._email, "password": self._password},
        )
        if response.status_code in (*_REFUSED, *_INVALID):
            raise self._refused()
        if response.status_code == 404:
            # The login path is an assumption (see LOGIN_PATH); say so rather than NOT_FOUND.
            raise ProviderUnavailable(
                f"Provider {quoted(self.provider_id)} offers no login endpoint where FleetQL "
                "expects it; configure a session instead.",
                provider=self.provider_id,
            )
        token = self._decode(response, what="Login", write=False).get("token")
        if not isinstance(token, str) or not token:
            raise ProviderUnavailable(
                f"Provider {quoted(self.provider_id)} answered a login without a session token.",
                provider=self.provider_id,
            )
        return token

    # --- transport ------------------------------------------------------------------

    async def _send(
        self, method: str, path: str, session: str | None, *, write: bool, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Cookie": f"ses6={session}", "x-xsrf-token": session} if session else {}
        return await self._http.send(method, path, write=write, headers=headers, **kwargs)

    def _decode(self, response: httpx.Response, *, what: str, write: bool) -> dict[str, Any]:
        status = response.status_code
        if 200 <= status < 300:
            body = self._http.decode_json(response)
            if isinstance(body, dict):
                return body
            raise ProviderUnavailable(
                f"Provider {quoted(self.provider_id)} answered with a malformed body.",
                provider=self.provider_id,
            )
        if status == _SUSPENDED:
            # The guide: a suspended platform terminates requests, so nothing was applied.
            raise ProviderUnavailable(
                f"Provider {quoted(self.provider_id)} is suspended (HTTP 503); try again shortly.",
                provider=self.provider_id,
            )
        raise self._http.error(response, write=write, names=what)

    def _refused(self) -> NotAuthorized:
        return refused(self.provider_id)
