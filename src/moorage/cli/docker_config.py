"""`moorage configure-docker HOST`: make docker, podman, skopeo and buildah ask `docker-credential-moorage`.

Like `gcloud auth configure-docker`, it adds `"credHelpers": {"HOST": "moorage"}` to
- docker's config: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`;
- the containers auth file (containers-auth.json(5)): `$REGISTRY_AUTH_FILE` when set, else the
  persistent `${XDG_CONFIG_HOME:-~/.config}/containers/auth.json`, and also the primary
  `$XDG_RUNTIME_DIR/containers/auth.json` when it exists (it is read first, and within a file a
  credential helper is consulted before stored `auths`).
Everything else in those files is kept; they are replaced atomically and created `0600`.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from moorage.cli.errors import USAGE, CliError, reported
from moorage.cli.logins import host_of

HELPER = "moorage"


def docker_config_file() -> Path:
    directory = os.environ.get("DOCKER_CONFIG")
    return Path(directory) / "config.json" if directory else Path.home() / ".docker" / "config.json"


def containers_auth_files() -> list[Path]:
    explicit = os.environ.get("REGISTRY_AUTH_FILE")
    if explicit:
        return [Path(explicit)]
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    files = [Path(config_home) / "containers" / "auth.json"]
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and (Path(runtime) / "containers" / "auth.json").is_file():
        files.insert(0, Path(runtime) / "containers" / "auth.json")
    return files


def add_credential_helper(path: Path, host: str) -> bool:
    """Set `credHelpers[host]` in one config file; False when it was already set."""
    document = _read(path)
    helpers = document.setdefault("credHelpers", {})
    if not isinstance(helpers, dict):
        raise CliError(f"{path}: credHelpers is not an object; fix the file first", USAGE)
    if helpers.get(host) == HELPER:
        return False
    helpers[host] = HELPER
    _write(path, document)
    return True


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror or error}", USAGE) from None
    if not text.strip():
        return {}
    try:
        document = json.loads(text)
    except ValueError as error:
        raise CliError(f"{path} is not valid JSON ({error}); left unchanged", USAGE) from None
    if not isinstance(document, dict):
        raise CliError(f"{path} is not a JSON object; left unchanged", USAGE)
    return document


def _write(path: Path, document: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    except OSError as error:
        raise CliError(f"cannot write {path}: {error.strerror or error}", USAGE) from None
    try:
        with os.fdopen(handle, "w") as file:
            json.dump(document, file, indent="\t")
            file.write("\n")
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@reported
def configure_docker(
    host: Annotated[str, typer.Argument(help="The registry as clients name it, e.g. registry.example.com:5000.")],
) -> None:
    """Make docker, podman, skopeo and buildah get credentials for HOST from `docker-credential-moorage`."""
    name = host_of(host)
    if not name:
        raise CliError(f"{host!r} is not a registry host", USAGE)
    for path in [docker_config_file(), *containers_auth_files()]:
        changed = add_credential_helper(path, name)
        typer.echo(f"{path}: {name} {'uses' if changed else 'already uses'} docker-credential-{HELPER}")
    typer.echo(f"Sign in with `moorage login` (or give CI an OIDC token): clients then ask the helper for {name}.")
