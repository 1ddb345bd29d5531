"""Authentication as PVE does it: API tokens and tickets with CSRF protection.

* ``Authorization: PVEAPIToken=USER@REALM!ID=SECRET``; a token can be read-only, so that
  writes answer 403 with PVE's "Permission check failed (<path>, <privilege>)".
* ``POST /access/ticket`` (username, password) gives a ticket for the ``PVEAuthCookie``
  cookie and a ``CSRFPreventionToken`` that every write made with the cookie must send as a
  header. Tickets are HMAC-signed, valid for two hours of the emulator's clock.
* Missing or bad credentials answer 401.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import unquote

from .errors import Unauthorized
from .knobs import Clock

TICKET_LIFETIME = 7200
_TOKEN_RE = re.compile(r"PVEAPIToken=(?P<user>[^!\s]+@[^!\s]+)!(?P<id>[A-Za-z][A-Za-z0-9._-]*)=(?P<secret>\S+)")
_TOKEN_SPEC_RE = re.compile(r"(?P<user>[^!\s]+@[^!\s]+)!(?P<id>[A-Za-z][A-Za-z0-9._-]*)=(?P<secret>\S+)")


@dataclass(frozen=True)
class Token:
    user: str
    token_id: str
    secret: str
    read_only: bool = False

    @property
    def full_id(self) -> str:
        return f"{self.user}!{self.token_id}"

    @classmethod
    def parse(cls, spec: str, *, read_only: bool = False) -> Token:
        """``USER@REALM!ID=SECRET`` (the command line's --token value)."""
        found = _TOKEN_SPEC_RE.fullmatch(spec)
        if found is None:
            raise ValueError(f"token must look like USER@REALM!ID=SECRET, got '{spec}'")
        return cls(found["user"], found["id"], found["secret"], read_only)

    def header(self) -> str:
        return f"PVEAPIToken={self.full_id}={self.secret}"


@dataclass(frozen=True)
class Identity:
    """Who made a request; ``csrf_ok`` is False for a cookie request without a valid token."""

    user: str
    read_only: bool = False
    by_ticket: bool = False
    csrf_ok: bool = True


class Auth:
    def __init__(self, clock: Clock, users: Mapping[str, str], tokens: list[Token]) -> None:
        self._clock = clock
        self._users = dict(users)
        self._tokens = {token.full_id: token for token in tokens}
        self._key = secrets.token_bytes(32)

    @property
    def tokens(self) -> list[Token]:
        return list(self._tokens.values())

    @property
    def users(self) -> Mapping[str, str]:
        return dict(self._users)

    def _sign(self, text: str) -> str:
        return base64.b64encode(hmac.new(self._key, text.encode(), hashlib.sha256).digest()).decode().rstrip("=")

    def _ticket(self, user: str) -> str:
        plain = f"PVE:{user}:{int(self._clock.now()):08X}"
        return f"{plain}::{self._sign(plain)}"

    def _csrf(self, user: str, stamp: str) -> str:
        return f"{stamp}:{self._sign(f'{stamp}:{user}')}"

    def _ticket_user(self, ticket: str) -> tuple[str, str] | None:
        """``(user, timestamp)`` of a valid, unexpired ticket."""
        plain, sep, signature = ticket.partition("::")
        parts = plain.split(":")
        if not sep or len(parts) != 3 or parts[0] != "PVE" or not hmac.compare_digest(self._sign(plain), signature):
            return None
        try:
            issued = int(parts[2], 16)
        except ValueError:
            return None
        if not -300 <= self._clock.now() - issued <= TICKET_LIFETIME:
            return None
        return parts[1], parts[2]

    def login(self, username: str, password: str, realm: str | None = None) -> dict[str, object]:
        """The answer of POST /access/ticket; the password may also be a valid ticket."""
        user = username if "@" in username else f"{username}@{realm or 'pam'}"
        renewed = self._ticket_user(password)
        if not (renewed and renewed[0] == user) and not (user in self._users and hmac.compare_digest(self._users[user], password)):
            raise Unauthorized("authentication failure")
        ticket = self._ticket(user)
        stamp = ticket.split(":")[2]
        return {
            "username": user,
            "ticket": ticket,
            "CSRFPreventionToken": self._csrf(user, stamp),
            "clustername": "emulated",
            "cap": {"vms": {"VM.Audit": 1, "VM.Config.Network": 1}, "nodes": {"Sys.Audit": 1, "Sys.Modify": 1}, "dc": {"Sys.Audit": 1}},
        }

    def identify(self, headers: Mapping[str, str]) -> Identity:
        """Who sent these headers; Unauthorized when nobody (or nobody valid) did."""
        authorization = headers.get("Authorization")
        if authorization:
            found = _TOKEN_RE.fullmatch(authorization.strip())
            token = self._tokens.get(f"{found['user']}!{found['id']}") if found else None
            if token is None or found is None or not hmac.compare_digest(token.secret, found["secret"]):
                raise Unauthorized("invalid token value!")
            return Identity(token.user, read_only=token.read_only)
        cookie = SimpleCookie()
        cookie.load(headers.get("Cookie", ""))
        if "PVEAuthCookie" not in cookie:
            raise Unauthorized("No ticket")
        found_user = self._ticket_user(unquote(cookie["PVEAuthCookie"].value))
        if found_user is None:
            raise Unauthorized("invalid PVE ticket")
        user, stamp = found_user
        csrf = headers.get("CSRFPreventionToken", "")
        return Identity(user, by_ticket=True, csrf_ok=hmac.compare_digest(csrf, self._csrf(user, stamp)))
