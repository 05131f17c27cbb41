"""HTTP authentication as Shelly devices do it: Digest (RFC 7616, SHA-256) on Gen2, Basic on Gen1."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable

#: Shelly's user name is always ``admin``.
USERNAME = "admin"
#: How long an issued nonce stays valid, in s (Shelly firmware 2.x: one hour).
NONCE_LIFETIME_S = 3600.0
_MAX_NONCES = 1000
_REQUIRED = {"nc", "cnonce", "response"}
_PARAMETER = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def sha256_hex(text: str) -> str:
    """Hex SHA-256 of a UTF-8 string."""
    return hashlib.sha256(text.encode()).hexdigest()


def parse_digest_header(header: str) -> dict[str, str] | None:
    """The parameters of an ``Authorization: Digest ...`` header; None when it is not Digest."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "digest":
        return None
    return {match[1].lower(): match[2] if match[2] else match[3] for match in _PARAMETER.finditer(rest)}


class DigestAuthenticator:
    """Issues Digest challenges and checks responses (qop ``auth``, algorithm SHA-256, user ``admin``).

    Nonces are random numbers, valid for an hour and for any number of requests (nonce counts are not
    checked for replays: this is a simulator).
    """

    def __init__(self, realm: str, password: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.realm = realm
        self._ha1 = sha256_hex(f"{USERNAME}:{realm}:{password}")
        self._clock = clock
        self._nonces: dict[str, float] = {}

    def challenge(self) -> str:
        """A ``WWW-Authenticate`` header value with a fresh nonce."""
        now = self._clock()
        self._nonces = {nonce: issued for nonce, issued in self._nonces.items() if now - issued < NONCE_LIFETIME_S}
        if len(self._nonces) >= _MAX_NONCES:
            del self._nonces[next(iter(self._nonces))]
        nonce = str(secrets.randbelow(2**31))
        self._nonces[nonce] = now
        return f'Digest qop="auth", realm="{self.realm}", nonce="{nonce}", algorithm=SHA-256'

    def verify(self, method: str, uri: str, header: str | None) -> bool:
        """Whether an ``Authorization`` header authorises ``method`` on ``uri`` (path and query)."""
        params = parse_digest_header(header) if header else None
        if params is None:
            return False
        issued = self._nonces.get(params.get("nonce", ""))
        if issued is None or self._clock() - issued >= NONCE_LIFETIME_S:
            return False
        expected = {"username": USERNAME, "realm": self.realm, "uri": uri, "qop": "auth"}
        if any(params.get(key) != value for key, value in expected.items()):
            return False
        if params.get("algorithm", "SHA-256").upper() != "SHA-256" or not params.keys() >= _REQUIRED:
            return False
        ha2 = sha256_hex(f"{method}:{uri}")
        digest = sha256_hex(f"{self._ha1}:{params['nonce']}:{params['nc']}:{params['cnonce']}:auth:{ha2}")
        return hmac.compare_digest(digest, params["response"])


class BasicAuthenticator:
    """Checks HTTP Basic credentials of user ``admin``."""

    def __init__(self, realm: str, password: str) -> None:
        self.realm = realm
        self._expected = f"{USERNAME}:{password}".encode()

    def challenge(self) -> str:
        """A ``WWW-Authenticate`` header value."""
        return f'Basic realm="{self.realm}"'

    def verify(self, header: str | None) -> bool:
        """Whether an ``Authorization`` header carries the right user and password."""
        scheme, _, encoded = (header or "").strip().partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(encoded.strip(), validate=True)
        except binascii.Error:
            return False
        return hmac.compare_digest(given, self._expected)
