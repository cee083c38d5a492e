"""A private Docker daemon for the test session, and the Docker CLI pointed at it with its own config.

The daemon is Debian's `docker.io` run as root with no systemd, no iptables and no bridge, the `vfs`
storage driver, and its socket, data root and exec root under one short temporary directory (see
/work/shared/REAL-CLIENTS.md, "docker"): it never touches a system daemon or the machine's config.
Loopback registries are plain HTTP through `--insecure-registry 127.0.0.0/8`.

The CLI is `/usr/bin/docker` (the package's, whatever else is earlier on PATH). Each `DockerCli` has
its own `DOCKER_CONFIG` and `HOME`, so logins, credential helpers and manifest lists stay inside one
test. One daemon serves a whole pytest session (with pytest-xdist, one per worker: the daemons share
nothing). A missing docker, or not being root, skips the tests, except under CI, where it fails.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.clients import DEFAULT_TIMEOUT, run

DOCKER = Path("/usr/bin/docker")
DOCKERD = Path("/usr/sbin/dockerd")


def docker_problems() -> list[str]:
    """Why a private dockerd cannot run here (empty when it can)."""
    problems = [f"{path} is missing (Debian package docker.io)" for path in (DOCKER, DOCKERD) if not path.exists()]
    if os.geteuid() != 0:
        problems.append("a private dockerd needs root")
    return problems


def require_docker() -> None:
    """Skip when Debian's docker.io is missing or we are not root (dockerd needs it); fail under CI."""
    problems = docker_problems()
    if not problems:
        return
    message = "; ".join(problems)
    if os.environ.get("CI"):
        pytest.fail(message + " (CI is set: e2e clients are required)")
    pytest.skip(message)


@dataclass
class Dockerd:
    """A running private daemon; `host` is the `DOCKER_HOST` value that reaches it."""

    root: Path
    process: subprocess.Popen[bytes]

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def log(self) -> str:
        path = self.root / "dockerd.log"
        return path.read_text(errors="replace")[-6000:] if path.exists() else ""


@dataclass
class DockerCli:
    """`/usr/bin/docker` bound to one daemon, with a config directory of its own."""

    daemon: Dockerd
    config_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        """What every docker command of this client runs with (on top of the current environment)."""
        return {
            "DOCKER_HOST": self.daemon.host,
            "DOCKER_CONFIG": str(self.config_dir),
            "HOME": str(self.config_dir.parent),
            "DOCKER_BUILDKIT": "0",  # Debian 12 ships no buildx; the classic builder needs no network
            **self.extra_env,
        }

    def run(self, *args: str | os.PathLike[str], input: bytes | None = None, timeout: float = DEFAULT_TIMEOUT) -> str:
        """Run `docker ARGS…`; return stdout as text, raise `ClientError` (with stderr) on failure."""
        return run([DOCKER, *args], env=self.env, input=input, timeout=timeout).stdout.decode().strip()

    def login(self, registry: str, username: str, secret: str) -> str:
        """`docker login --password-stdin`, the way CI scripts pass a secret."""
        return self.run("login", registry, "-u", username, "--password-stdin", input=secret.encode())

    def config(self) -> dict[str, Any]:
        path = self.config_dir / "config.json"
        result: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        return result

    def write_config(self, config: Mapping[str, Any]) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        (self.config_dir / "config.json").write_text(json.dumps(config))

    def image_id(self, reference: str) -> str:
        return self.run("image", "inspect", "--format", "{{.Id}}", reference)


@contextlib.contextmanager
def docker_cli(daemon: Dockerd, **extra_env: str) -> Iterator[DockerCli]:
    """A `DockerCli` with a fresh, empty config directory, removed afterwards."""
    home = Path(tempfile.mkdtemp(prefix="moorage-docker-"))
    try:
        yield DockerCli(daemon, home / ".docker", dict(extra_env))
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the test process dies without cleaning up (Linux prctl)."""
    PR_SET_PDEATHSIG = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _wait_until_ready(daemon: Dockerd, deadline: float) -> None:
    while time.monotonic() < deadline:
        if daemon.process.poll() is not None:
            raise RuntimeError(f"dockerd exited with {daemon.process.returncode}:\n{daemon.log()}")
        if daemon.socket.is_socket():
            probe = run([DOCKER, "version"], env={"DOCKER_HOST": daemon.host}, check=False, timeout=10)
            if probe.returncode == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"dockerd did not answer on {daemon.socket} in time:\n{daemon.log()}")


@contextlib.contextmanager
def running_dockerd(startup_timeout: float = 60.0) -> Iterator[Dockerd]:
    """Start a private dockerd under a fresh short directory; stop it (and its containerd) at the end.

    The directory is under /tmp, not pytest's tmp tree: a unix socket path is limited to 108 bytes.
    """
    root = Path(tempfile.mkdtemp(prefix="dkr-"))
    (root / "daemon.json").write_text("{}\n")  # not the machine's /etc/docker/daemon.json
    command = [
        str(DOCKERD),
        "--config-file", str(root / "daemon.json"),
        "--storage-driver=vfs",
        "--iptables=false",
        "--ip6tables=false",
        "--bridge=none",
        "--data-root", str(root / "data"),
        "--exec-root", str(root / "exec"),
        "--pidfile", str(root / "dockerd.pid"),
        "--host", f"unix://{root / 'docker.sock'}",
        "--insecure-registry", "127.0.0.0/8",
    ]  # fmt: skip
    log = open(root / "dockerd.log", "wb")  # noqa: SIM115 - closed below, after the daemon stops
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent
    )
    daemon = Dockerd(root, process)
    try:
        _wait_until_ready(daemon, time.monotonic() + startup_timeout)
        yield daemon
    finally:
        _stop(daemon)
        log.close()
        _unmount_below(root)
        shutil.rmtree(root, ignore_errors=True)


def _stop(daemon: Dockerd) -> None:
    """SIGTERM dockerd (it stops the containerd it started), then make sure both are gone."""
    if daemon.process.poll() is None:
        daemon.process.send_signal(signal.SIGTERM)
        try:
            daemon.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.process.kill()
            daemon.process.wait()
    # dockerd starts containerd in a session of its own; after a crash of dockerd it would linger.
    for pidfile in (daemon.root / "exec").glob("containerd/*.pid"):
        with contextlib.suppress(ValueError, OSError):
            pid = int(pidfile.read_text().strip())
            # Only ours: its command line names our directory (a PID may have been reused).
            if str(daemon.root).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGKILL)


def _unmount_below(root: Path) -> None:
    """dockerd bind-mounts its data root onto itself; undo whatever is still mounted under `root`."""
    prefix = str(root) + "/"
    with open("/proc/self/mounts") as mounts:
        targets = [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]
    for target in sorted(targets, key=len, reverse=True):
        run(["umount", "-l", target], check=False)
