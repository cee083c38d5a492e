"""A test OIDC issuer on loopback: its own key pair, a discovery document, a JWKS, and ID tokens to order.

It behaves like GitHub Actions' issuer (https://token.actions.githubusercontent.com): RS256 tokens
with `kid`, a `sub` like `repo:OWNER/REPO:ref:refs/heads/main`, and claims such as `repository`,
`repository_owner`, `ref`, `environment`, `workflow`, `run_id`. It can also forge the tokens an
attacker would send (`alg: none`, HS256 keyed with the public key, a foreign key), rotate its key,
and count how often its keys were fetched.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

AUDIENCE = "moorage-test"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass
class SigningKey:
    kid: str
    private: Any
    alg: str = "RS256"

    @classmethod
    def rsa(cls, kid: str | None = None) -> SigningKey:
        return cls(kid or uuid.uuid4().hex[:12], rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @classmethod
    def ec(cls, kid: str | None = None) -> SigningKey:
        return cls(kid or uuid.uuid4().hex[:12], ec.generate_private_key(ec.SECP256R1()), "ES256")

    def public_jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.alg)
        jwk: dict[str, Any] = json.loads(algorithm.to_jwk(self.private.public_key()))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": self.alg}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@dataclass
class OidcIssuer:
    """The issuer's state; `url` is its `iss`. Serve it with `running_issuer()`."""

    url: str = ""
    keys: list[SigningKey] = field(default_factory=lambda: [SigningKey.rsa()])
    jwks_fetches: int = 0
    discovery_fetches: int = 0
    jwks_status: int = 200

    @property
    def key(self) -> SigningKey:
        """The key new tokens are signed with (the last one added)."""
        return self.keys[-1]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.public_jwk() for key in self.keys]}

    def rotate(self, keep_old: bool = True) -> SigningKey:
        """Start signing with a new key; publish both unless `keep_old` is false."""
        new = SigningKey.rsa()
        self.keys = [*self.keys, new] if keep_old else [new]
        return new

    def claims(self, repository: str = "acme/api", ref: str = "refs/heads/main", **extra: Any) -> dict[str, Any]:
        """GitHub-Actions-like claims for a workflow run in `repository` on `ref`, valid for 5 minutes."""
        now = int(time.time())
        owner = repository.split("/", 1)[0]
        claims: dict[str, Any] = {
            "jti": uuid.uuid4().hex,
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": f"repo:{repository}:ref:{ref}",
            "repository": repository,
            "repository_owner": owner,
            "repository_id": "123456",
            "ref": ref,
            "ref_type": "branch" if ref.startswith("refs/heads/") else "tag",
            "workflow": "build",
            "event_name": "push",
            "actor": "octocat",
            "run_id": "42",
            "iat": now,
            "nbf": now - 5,
            "exp": now + 300,
        }
        if "environment" in extra and extra["environment"] is not None:
            claims["sub"] = f"repo:{repository}:environment:{extra['environment']}"
        claims.update({key: value for key, value in extra.items() if value is not None})
        return claims

    def mint(self, claims: dict[str, Any] | None = None, key: SigningKey | None = None, **overrides: Any) -> str:
        """A signed ID token; `overrides` replace claims (None removes one)."""
        body = dict(claims if claims is not None else self.claims())
        for name, value in overrides.items():
            if value is None:
                body.pop(name, None)
            else:
                body[name] = value
        signer = key or self.key
        return jwt.encode(body, signer.private, algorithm=signer.alg, headers={"kid": signer.kid})

    def forge_unsigned(self, claims: dict[str, Any] | None = None) -> str:
        """`alg: none`: a token with no signature at all."""
        header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": self.key.kid}).encode())
        return f"{header}.{_b64(json.dumps(claims or self.claims()).encode())}."

    def forge_hs256_with_public_key(self, claims: dict[str, Any] | None = None) -> str:
        """HS256 keyed with the issuer's public key (the classic algorithm-confusion forgery)."""
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": self.key.kid}).encode())
        payload = _b64(json.dumps(claims or self.claims()).encode())
        signing_input = f"{header}.{payload}".encode()
        signature = hmac.new(self.key.public_pem(), signing_input, hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(signature)}"


def _handler(issuer: OidcIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/.well-known/openid-configuration":
                issuer.discovery_fetches += 1
                self._json(200, {
                    "issuer": issuer.url,
                    "jwks_uri": f"{issuer.url}/.well-known/jwks",
                    "response_types_supported": ["id_token"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "claims_supported": ["sub", "aud", "exp", "iat", "iss", "repository", "ref", "environment"],
                })  # fmt: skip
            elif self.path == "/.well-known/jwks":
                issuer.jwks_fetches += 1
                self._json(issuer.jwks_status, issuer.jwks())
            else:
                self._json(404, {"error": "not found"})

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextlib.contextmanager
def running_issuer(issuer: OidcIssuer | None = None) -> Iterator[OidcIssuer]:
    """Serve an issuer on a free loopback port until the context ends."""
    issuer = issuer or OidcIssuer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(issuer))
    server.daemon_threads = True
    server.block_on_close = False  # do not wait for a client's idle connection at shutdown
    issuer.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        server.shutdown()  # returns within serve_forever's poll interval
        server.server_close()
        thread.join(timeout=10)


def issuer_body(
    issuer: OidcIssuer, name: str, rules: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    """The management API body that trusts `issuer` under `name` (audience AUDIENCE)."""
    return {"name": name, "issuer": issuer.url, "audience": AUDIENCE, "rules": rules or [], **extra}


def push_rule(repository: str, name: str = "push", actions: tuple[str, ...] = ("push",)) -> dict[str, Any]:
    """A rule granting the workflows of GitHub repository `repository` on main push to the same-named repository."""
    return {
        "name": name,
        "claims": {"repository": repository, "ref": "refs/heads/main"},
        "repositories": [repository],
        "actions": list(actions),
    }


def exchange_form(token: str) -> dict[str, str]:
    """The RFC 8693 form a CI job posts to /api/v1/oidc/exchange."""
    return {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": token,
        "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
    }
