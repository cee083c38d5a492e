"""Run real registry clients (skopeo, podman, buildah, containerd's ctr) against a registry on loopback.

Every client reads its configuration from files inside the test's temporary directory, never from the
machine's global config (see /work/shared/REAL-CLIENTS.md): `ContainerTools` writes storage.conf,
registries.conf (the registry marked insecure), containers.conf and an empty auth file, and passes them
through CONTAINERS_* environment variables; `Containerd` runs a private containerd daemon whose root,
state and sockets all live in its own directory.

A missing client skips the test, except under CI, where it fails: CI must never pass by skipping.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

DEFAULT_TIMEOUT = 120.0


class ClientError(AssertionError):
    """A client command failed; the message carries the command, exit status, stdout and stderr."""

    def __init__(self, result: subprocess.CompletedProcess[bytes]) -> None:
        self.result = result
        command = " ".join(str(part) for part in result.args)
        super().__init__(
            f"`{command}` exited with {result.returncode}\n"
            f"--- stdout ---\n{_text(result.stdout)}\n--- stderr ---\n{_text(result.stderr)}"
        )


def _text(data: bytes | None) -> str:
    return (data or b"").decode(errors="replace")[-8000:]


def require_tools(*names: str) -> None:
    """Skip the test when a client is not installed; under CI (env CI set) fail instead."""
    missing = [name for name in names if shutil.which(name) is None]
    if not missing:
        return
    message = f"client not installed: {', '.join(missing)}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI is set: e2e clients are required)")
    pytest.skip(message)


def require_root(what: str) -> None:
    """Skip (fail under CI) when not running as root: containerd and rootful podman need it."""
    if os.geteuid() == 0:
        return
    message = f"{what} needs root"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI is set: e2e clients are required)")
    pytest.skip(message)


def run(
    command: Sequence[str | os.PathLike[str]],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    input: bytes | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    """Run a command to completion; on failure raise `ClientError` showing its stderr.

    `env` is added to (not substituted for) the current environment.
    """
    __tracebackhide__ = True
    result = subprocess.run(
        [str(part) for part in command],
        env={**os.environ, **(env or {})},
        cwd=cwd,
        input=input,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise ClientError(result)
    return result


# --- skopeo, podman, buildah ---------------------------------------------------------------------------


@dataclass
class ContainerTools:
    """skopeo, podman and buildah configured to use only files under `root`.

    `registry_host` ("127.0.0.1:PORT") is declared insecure (plain HTTP) in registries.conf, and skopeo
    is additionally told `--tls-verify=false` and `--insecure-policy`, so no trust policy is read.
    """

    root: Path
    registry_host: str
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, root: Path, registry_host: str) -> ContainerTools:
        for name in ("tmp", "run", "storage"):
            (root / name).mkdir(parents=True, exist_ok=True)
        (root / "storage.conf").write_text(
            f'[storage]\ndriver = "vfs"\nrunroot = "{root / "run"}"\ngraphroot = "{root / "storage"}"\n'
        )
        (root / "registries.conf").write_text(
            f'unqualified-search-registries = []\n\n[[registry]]\nlocation = "{registry_host}"\ninsecure = true\n'
        )
        (root / "containers.conf").write_text(
            '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
            f'events_logfile_path = "{root / "events.log"}"\ntmp_dir = "{root / "tmp"}"\n'
        )
        # podman 4.3 refuses to start when REGISTRY_AUTH_FILE names a missing file.
        (root / "auth.json").write_text("{}")
        env = {
            "CONTAINERS_STORAGE_CONF": str(root / "storage.conf"),
            "CONTAINERS_REGISTRIES_CONF": str(root / "registries.conf"),
            "CONTAINERS_CONF": str(root / "containers.conf"),
            "REGISTRY_AUTH_FILE": str(root / "auth.json"),
            "TMPDIR": str(root / "tmp"),
            "XDG_RUNTIME_DIR": str(root / "run"),
        }
        return cls(root, registry_host, env)

    def ref(self, repository: str, reference: str) -> str:
        """`127.0.0.1:PORT/repository:tag` or `...@sha256:...`, the way podman and ctr name images."""
        separator = "@" if ":" in reference else ":"
        return f"{self.registry_host}/{repository}{separator}{reference}"

    def docker(self, repository: str, reference: str) -> str:
        """The skopeo/buildah transport name `docker://HOST/REPO:TAG` for an image in the registry."""
        return "docker://" + self.ref(repository, reference)

    def run(self, *command: str | os.PathLike[str], timeout: float = DEFAULT_TIMEOUT) -> str:
        """Run a client with this configuration; return its stdout as text."""
        result = run(command, env=self.env, cwd=self.root, timeout=timeout)
        return result.stdout.decode()

    # skopeo ------------------------------------------------------------------------------------------

    def _skopeo(self, subcommand: str, *args: str | os.PathLike[str]) -> str:
        return self.run("skopeo", "--insecure-policy", "--tmpdir", self.root / "tmp", subcommand, *args)

    def skopeo_copy(self, source: str, destination: str, *extra: str) -> str:
        """`skopeo copy` with plain HTTP on both sides; `extra` may add `--all`, `--preserve-digests`…"""
        return self._skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false", *extra, source, destination)

    def skopeo_inspect_raw(self, image: str) -> bytes:
        """The manifest bytes exactly as the source serves them."""
        result = run(
            ["skopeo", "--insecure-policy", "inspect", "--tls-verify=false", "--raw", image],
            env=self.env,
            cwd=self.root,
        )
        return result.stdout

    def skopeo_inspect(self, image: str) -> dict[str, Any]:
        """`skopeo inspect` (the image summary with Digest, RepoTags, Layers, Architecture…)."""
        result: dict[str, Any] = json.loads(self._skopeo("inspect", "--tls-verify=false", image))
        return result

    def skopeo_list_tags(self, repository: str) -> list[str]:
        """The tags of `repository` in the registry, as `skopeo list-tags` reports them."""
        output = json.loads(
            self._skopeo("list-tags", "--tls-verify=false", f"docker://{self.registry_host}/{repository}")
        )
        tags: list[str] = output["Tags"]
        return tags

    def skopeo_delete(self, image: str) -> None:
        """Delete a manifest (skopeo resolves a tag to its digest and deletes by digest)."""
        self._skopeo("delete", "--tls-verify=false", image)

    # podman and buildah ----------------------------------------------------------------------------------

    def podman(self, *args: str | os.PathLike[str]) -> str:
        return self.run("podman", *args).strip()

    def buildah(self, *args: str | os.PathLike[str]) -> str:
        return self.run("buildah", *args).strip()


@contextlib.contextmanager
def container_tools(registry_host: str) -> Iterator[ContainerTools]:
    """A `ContainerTools` in a fresh directory, removed (with its vfs storage) afterwards.

    The directory is short and outside pytest's tmp tree: podman and buildah keep sockets and lock
    files under runroot, and vfs storage is removed here rather than left for pytest's rotation.
    """
    root = Path(tempfile.mkdtemp(prefix="moorage-clients-"))
    try:
        yield ContainerTools.create(root, registry_host)
    finally:
        shutil.rmtree(root, ignore_errors=True)


# --- containerd ----------------------------------------------------------------------------------------


@dataclass
class Containerd:
    """A private containerd daemon and the `ctr` command bound to its socket."""

    root: Path
    process: subprocess.Popen[bytes]

    @property
    def address(self) -> Path:
        return self.root / "containerd.sock"

    @property
    def log_path(self) -> Path:
        return self.root / "containerd.log"

    def ctr(self, *args: str | os.PathLike[str], timeout: float = DEFAULT_TIMEOUT) -> str:
        """Run `ctr --address SOCK ARGS…`; return stdout as text."""
        return run(["ctr", "--address", self.address, *args], timeout=timeout).stdout.decode()

    def ctr_bytes(self, *args: str | os.PathLike[str]) -> bytes:
        """Run `ctr` and return its raw stdout (for `content get`)."""
        return run(["ctr", "--address", self.address, *args]).stdout

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _containerd_config(root: Path) -> str:
    return f"""version = 2
root = "{root / "root"}"
state = "{root / "state"}"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "{root / "containerd.sock"}"

[ttrpc]
  address = "{root / "containerd.sock.ttrpc"}"

[debug]
  level = "info"

[plugins."io.containerd.internal.v1.opt"]
  path = "{root / "opt"}"
"""


def _wait_for_socket(daemon: Containerd, deadline: float) -> None:
    while time.monotonic() < deadline:
        if daemon.process.poll() is not None:
            raise RuntimeError(f"containerd exited with {daemon.process.returncode}:\n{daemon.log()}")
        if daemon.address.is_socket():
            probe = run(["ctr", "--address", daemon.address, "version"], check=False, timeout=10)
            if probe.returncode == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"containerd did not answer on {daemon.address} within the deadline:\n{daemon.log()}")


@contextlib.contextmanager
def running_containerd(startup_timeout: float = 30.0) -> Iterator[Containerd]:
    """Start containerd as root with everything under a fresh short directory; stop it by PID.

    The directory is under /tmp rather than pytest's tmp tree because a unix socket path is limited to
    108 bytes. Requires root (containerd mounts snapshots); tests use the `native` snapshotter, which
    needs no overlay support.
    """
    root = Path(tempfile.mkdtemp(prefix="ctrd-"))
    (root / "config.toml").write_text(_containerd_config(root))
    log = open(root / "containerd.log", "wb")  # noqa: SIM115 - closed below, after the daemon stops
    process = subprocess.Popen(
        ["containerd", "--config", str(root / "config.toml")],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    daemon = Containerd(root, process)
    try:
        _wait_for_socket(daemon, time.monotonic() + startup_timeout)
        yield daemon
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()
        _unmount_below(root)
        shutil.rmtree(root, ignore_errors=True)


def _unmount_below(root: Path) -> None:
    """Unmount anything containerd left mounted under `root` (none expected with `native`)."""
    prefix = str(root) + "/"
    with open("/proc/self/mounts") as mounts:
        targets = [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]
    for target in sorted(targets, key=len, reverse=True):
        run(["umount", "-l", target], check=False)


# --- oras-py -------------------------------------------------------------------------------------------


def oras_client(registry_host: str, artifact_type: str | None = None) -> Any:
    """An oras-py client for a plain-HTTP registry that stamps `artifactType` on manifests it pushes.

    oras-py 0.2 has no `artifactType` parameter, so the manifest dict is amended just before upload;
    everything else (blob upload, `subject`, the manifest PUT) is oras-py's own code.
    """
    import oras.client  # type: ignore[import-untyped]

    class ArtifactClient(oras.client.OrasClient):  # type: ignore[misc]
        def upload_manifest(self, manifest: dict[str, Any], container: Any) -> Any:
            if artifact_type is not None:
                manifest = {**manifest, "artifactType": artifact_type}
            return super().upload_manifest(manifest, container)

    return ArtifactClient(hostname=registry_host, insecure=True)
