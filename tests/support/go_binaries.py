"""Go binaries for the scanner's tests: built by the Go toolchain, or written from the documented format.

`build_go_binary` builds `GO_TEST_PROGRAM` (one vendored dependency, so no network) with the
installed toolchain (Debian's `golang-go`; `scripts/test` installs it). `synthetic_go_binary` writes
a file that is *not* a runnable program: an ELF magic, padding, and a `.go.buildinfo` blob in the
format `debug/buildinfo` reads (Go >= 1.18: the 32-byte header `\\xff Go buildinf:`, pointer size,
flags 0x2, then varint-prefixed version and module-information strings, the latter inside 16-byte
sentinels). A test checks that the toolchain's binaries have that shape.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

GO_INFO_START = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6"
GO_INFO_END = b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2"


def _uvarint(value: int) -> bytes:
    out = b""
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def go_buildinfo_blob(go_version: str, modinfo: str) -> bytes:
    """A `.go.buildinfo` section (Go >= 1.18 layout: inline strings)."""
    header = b"\xff Go buildinf:" + bytes([8, 0x2])
    header += b"\0" * (32 - len(header))
    mod = GO_INFO_START + modinfo.encode() + GO_INFO_END
    return header + _uvarint(len(go_version)) + go_version.encode() + _uvarint(len(mod)) + mod


def go_modinfo(main: str, main_version: str = "(devel)", deps: Sequence[tuple[str, str]] = ()) -> str:
    lines = [f"path\t{main}", f"mod\t{main}\t{main_version}\t"]
    lines += [f"dep\t{path}\t{version}\th1:{'x' * 43}=" for path, version in deps]
    lines += ["build\t-compiler=gc", "build\tGOOS=linux"]
    return "\n".join(lines) + "\n"


def synthetic_go_binary(go_version: str, modinfo: str, *, padding: int = 8192, decoy: bool = True) -> bytes:
    """Not a runnable program: an ELF header's magic, padding and a 16-aligned build info blob.

    With `decoy`, the magic string first appears unaligned and without a valid header (as it does in
    the `go` command's read-only data), so the reader must skip a false match.
    """
    start = b"\x7fELF\x02\x01\x01" + b"\0" * 57
    fake = b"\x03" + b"\xff Go buildinf:" + b"garbage" if decoy else b""
    body = start + fake
    body += b"\0" * max(0, padding - len(body))
    body += b"\0" * (-len(body) % 16)
    return body + go_buildinfo_blob(go_version, modinfo) + b"\0" * 512


GO_TEST_PROGRAM = {
    "go.mod": "module example.com/scanme\n\ngo 1.19\n\nrequire example.com/greeting v1.2.3\n",
    "main.go": 'package main\n\nimport "example.com/greeting"\n\nfunc main() { println(greeting.Hello()) }\n',
    "vendor/example.com/greeting/greeting.go": 'package greeting\n\nfunc Hello() string { return "hello" }\n',
    "vendor/modules.txt": "# example.com/greeting v1.2.3\n## explicit\nexample.com/greeting\n",
}
"""A program with one dependency, vendored so the build needs no network (a real module version)."""


def go_toolchain() -> str | None:
    return shutil.which("go")


def build_go_binary(work_dir: Path) -> bytes:
    """Build `GO_TEST_PROGRAM` with the installed Go toolchain (static, stripped) and return the binary."""
    go = go_toolchain()
    assert go is not None, "the Go toolchain is not installed"
    source = work_dir / "src"
    for name, text in GO_TEST_PROGRAM.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    environment = {
        **os.environ,
        "CGO_ENABLED": "0",
        "GOFLAGS": "-mod=vendor",
        "GOPROXY": "off",
        "GOTOOLCHAIN": "local",
        "GOPATH": str(work_dir / "gopath"),
    }
    environment.setdefault("GOCACHE", str(Path(environment.get("HOME", str(work_dir))) / ".cache" / "go-build"))
    output = work_dir / "scanme"
    subprocess.run(
        [go, "build", "-trimpath", "-ldflags=-s", "-o", str(output), "."],
        cwd=source,
        env=environment,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return output.read_bytes()
