"""Talking to a registry with authentication on, the way clients do, and forging tokens to attack it.

`DockerTokenAuth` is an httpx auth flow that does what docker/podman do: on a 401 with a Bearer
challenge it asks the realm for a token for the challenged scope (HTTP Basic, or anonymous) and
retries. `Forger` signs tokens with the registry's own key (read from its metadata store, decrypted
with its secret key file) or with other keys, to check that every wrong claim is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from moorage.auth.secret_box import SecretBox
from moorage.auth.secret_key_file import read_key_file
from tests.support.server import RunningRegistry

ADMIN = "admin"
ADMIN_PASSWORD = "admin-" + uuid.uuid4().hex
"""The first admin's password for every registry the tests start with authentication on."""

SERVICE = "moorage"
ISSUER = "moorage"

_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


def challenge(response: httpx.Response) -> dict[str, str]:
    """The parameters of a `WWW-Authenticate: Bearer ...` header."""
    value = response.headers.get("www-authenticate", "")
    assert value.startswith("Bearer "), f"expected a Bearer challenge, got {value!r}"
    return dict(_CHALLENGE_PARAM.findall(value))


def fetch_token(url: str, credentials: tuple[str, str] | None, *scopes: str, **params: str) -> httpx.Response:
    query: list[tuple[str, str]] = [("service", SERVICE), *[("scope", s) for s in scopes], *params.items()]
    return httpx.get(f"{url}/token", params=query, auth=credentials, timeout=30)


def token_for(url: str, credentials: tuple[str, str] | None, *scopes: str) -> str:
    response = fetch_token(url, credentials, *scopes)
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


_REPOSITORY_PATH = re.compile(r"^/v2/(.+?)/(?:blobs|manifests|tags|referrers)/")


class DockerTokenAuth(httpx.Auth):
    """Answer Bearer challenges like a registry client, keeping one token per repository.

    When a request needs more than the repository's token grants, the client asks for the new
    scope together with the ones it asked for before (as containers/image does).
    """

    def __init__(self, credentials: tuple[str, str] | None) -> None:
        self.credentials = credentials
        self.tokens: dict[str, str] = {}
        self.scopes: dict[str, list[str]] = {}

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        match = _REPOSITORY_PATH.match(request.url.path)
        key = match.group(1) if match else ""
        cached = self.tokens.get(key)
        if cached:
            request.headers["Authorization"] = f"Bearer {cached}"
        response = yield request
        if response.status_code not in (401, 403) or not response.headers.get("www-authenticate", "").startswith(
            "Bearer"
        ):
            return
        params = challenge(response)
        scopes = self.scopes.setdefault(key, [])
        if "scope" in params and params["scope"] not in scopes:
            scopes.append(params["scope"])
        query = [("service", params.get("service", SERVICE))] + [("scope", scope) for scope in scopes]
        token_request = httpx.Request("GET", params["realm"], params=query)
        if self.credentials is not None:
            basic = base64.b64encode(":".join(self.credentials).encode()).decode()
            token_request.headers["Authorization"] = f"Basic {basic}"
        token_response = yield token_request
        token_response.read()
        if token_response.status_code != 200:
            return
        token = token_response.json()["token"]
        self.tokens[key] = token
        request.headers["Authorization"] = f"Bearer {token}"
        yield request


def client_for(server: RunningRegistry, credentials: tuple[str, str] | None) -> httpx.Client:
    """An HTTP client that authenticates to `/v2/` with these credentials (None: anonymous)."""
    return httpx.Client(base_url=server.url, auth=DockerTokenAuth(credentials), timeout=60)


def api(server: RunningRegistry, credentials: tuple[str, str] = (ADMIN, "")) -> httpx.Client:
    """A management API client (HTTP Basic); the default is the first admin."""
    if credentials == (ADMIN, ""):
        credentials = (ADMIN, ADMIN_PASSWORD)
    return httpx.Client(base_url=f"{server.url}/api/v1", auth=credentials, timeout=60)


def unique_name(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def create_user(server: RunningRegistry, name: str | None = None, password: str | None = None) -> tuple[str, str]:
    """A new user (not an admin); returns its (name, password)."""
    name = name or unique_name("u")
    password = password or "pw-" + uuid.uuid4().hex
    with api(server) as admin:
        response = admin.post("/users", json={"name": name, "password": password})
        assert response.status_code == 201, response.text
    return name, password


def grant(server: RunningRegistry, subject_kind: str, subject: str, pattern: str, role: str) -> None:
    with api(server) as admin:
        body = {"subject_kind": subject_kind, "subject": subject, "repository_pattern": pattern, "role": role}
        response = admin.put("/grants", json=body)
        assert response.status_code == 200, response.text


@dataclass
class Forger:
    """Builds tokens with chosen claims, signed by the registry's own newest key or by others."""

    private_key: Ed25519PrivateKey
    kid: str
    other_key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    @classmethod
    def of(cls, server: RunningRegistry, secret_key: str | None = None) -> Forger:
        """The newest key; decrypted with `secret_key`, or by default with the data directory's key file."""
        url = server.database_url or f"sqlite:///{server.data_dir / 'metadata.db'}"  # type: ignore[operator]
        engine = sa.create_engine(url)
        try:
            with engine.connect() as connection:
                row = connection.exec_driver_sql(
                    "SELECT kid, private_key_encrypted FROM signing_keys ORDER BY created_at DESC"
                ).first()
        finally:
            engine.dispose()
        assert row is not None and server.data_dir is not None
        # The key is stored encrypted; the forger is a thief who also has the secret key file.
        box = SecretBox(secret_key or read_key_file(server.data_dir / "secret.key"))
        key = serialization.load_pem_private_key(box.decrypt(row[1]), password=None)
        assert isinstance(key, Ed25519PrivateKey)
        return cls(key, row[0])

    def claims(self, name: str, actions: list[str], **overrides: Any) -> dict[str, Any]:
        moment = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": SERVICE,
            "sub": ADMIN,
            "iat": moment,
            "nbf": moment,
            "exp": moment + 300,
            "jti": uuid.uuid4().hex,
            "access": [{"type": "repository", "name": name, "actions": actions}],
            "moorage": {"kind": "user", "credential": None},
        }
        claims.update(overrides)
        return claims

    def sign(self, claims: dict[str, Any], key: Ed25519PrivateKey | None = None, kid: str | None = None) -> str:
        return jwt.encode(claims, key or self.private_key, algorithm="EdDSA", headers={"kid": kid or self.kid})

    def unsigned(self, claims: dict[str, Any]) -> str:
        """`alg: none`, no signature."""
        header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": self.kid}).encode())
        return f"{header}.{_b64(json.dumps(claims).encode())}."

    def hs256_with_public_key(self, claims: dict[str, Any]) -> str:
        """The classic key-confusion attack: HMAC keyed with the server's public key."""
        public = self.private_key.public_key()
        secrets = [
            public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
            public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        ]
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": self.kid}).encode())
        payload = _b64(json.dumps(claims).encode())
        signature = hmac.new(secrets[0], f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(signature)}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
