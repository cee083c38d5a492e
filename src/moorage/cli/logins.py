"""The logins `moorage login` keeps: one short-lived credential per registry, in the user's config directory.

A login is stored as `$XDG_CONFIG_HOME/moorage/logins.json` (default `~/.config/moorage/`), the
directory `0700` and the file `0600`, replaced atomically. It never holds a password: `moorage login`
exchanges the password (or a CI job's ID token) for a login password or an exchanged OIDC
credential that expires, and stores that with its expiry, so a copied file is worth hours, not
an account.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

FILE_NAME = "logins.json"


@dataclass(frozen=True)
class StoredLogin:
    """A credential for one registry: who, the secret, what kind it is and until when it works."""

    url: str
    username: str
    secret: str
    kind: str  # "login password" or "oidc credential"
    expires_at: datetime | None

    def expired(self, at: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (at or datetime.now(UTC))

    @property
    def host(self) -> str:
        return host_of(self.url)


def host_of(url: str) -> str:
    """`host[:port]` of a URL, or of a bare `host[:port]` as docker and podman name registries."""
    if "://" not in url:
        url = "//" + url
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{parts.port}" if parts.port else host


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "moorage"


class LoginStore:
    """Reads and writes the logins file; a missing file is an empty store."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or config_dir()
        self.path = self.directory / FILE_NAME

    def all(self) -> list[StoredLogin]:
        try:
            document = json.loads(self.path.read_text())
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as error:
            raise LoginStoreError(f"cannot read the stored logins in {self.path}: {error}") from None
        logins = document.get("logins", {}) if isinstance(document, dict) else {}
        try:
            return [_login(url, entry) for url, entry in logins.items() if isinstance(entry, dict)]
        except ValueError as error:
            raise LoginStoreError(f"cannot read the stored logins in {self.path}: {error}") from None

    def find(self, url: str) -> StoredLogin | None:
        """The login for exactly this URL, else the only login for its host."""
        logins = self.all()
        wanted = normalise(url)
        for login in logins:
            if login.url == wanted:
                return login
        same_host = [login for login in logins if login.host == host_of(url)]
        return same_host[0] if len(same_host) == 1 else None

    def save(self, login: StoredLogin) -> None:
        logins = {other.url: other for other in self.all() if other.url != login.url}
        logins[login.url] = login
        self._write(logins.values())

    def remove(self, url: str) -> StoredLogin | None:
        found = self.find(url)
        if found is not None:
            self._write(login for login in self.all() if login.url != found.url)
        return found

    def _write(self, logins: Any) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        document = {"logins": {login.url: _entry(login) for login in logins}}
        handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".logins-", suffix=".json")
        try:
            with os.fdopen(handle, "w") as file:  # mkstemp creates the file 0600
                json.dump(document, file, indent=2)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


class LoginStoreError(Exception):
    """The logins file exists but cannot be read or parsed."""


def normalise(url: str) -> str:
    """The URL logins are keyed by: scheme, host and port, no credentials, no trailing slash.

    A bare `host[:port]` (how docker and podman name a registry) means https, except on loopback,
    where registries are plain http (as docker and podman treat them).
    """
    host = host_of(url)
    if "://" not in url:
        return f"{'http' if is_loopback(host) else 'https'}://{host}"
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{host}{parts.path.rstrip('/')}"


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]", 1)[0] + "]"
    return name == "localhost" or name.startswith("127.") or name == "[::1]"


def _entry(login: StoredLogin) -> dict[str, Any]:
    entry = asdict(login)
    del entry["url"]
    entry["expires_at"] = login.expires_at.isoformat() if login.expires_at else None
    return entry


def _login(url: str, entry: dict[str, Any]) -> StoredLogin:
    expires = entry.get("expires_at")
    return StoredLogin(
        url=url,
        username=str(entry.get("username", "")),
        secret=str(entry.get("secret", "")),
        kind=str(entry.get("kind", "login password")),
        expires_at=datetime.fromisoformat(expires) if isinstance(expires, str) else None,
    )
