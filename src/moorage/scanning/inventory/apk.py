"""apk's database, `lib/apk/db/installed`: one paragraph of `X:value` lines per package.

`P` name, `V` version, `A` architecture, `o` origin (the source package, built at the same
version), and the files it owns: each `R:` file lies in the directory of the last `F:` line.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ApkPackage:
    name: str
    version: str
    architecture: str
    origin: str
    files: tuple[str, ...]


def parse_installed(text: str) -> list[ApkPackage]:
    packages: list[ApkPackage] = []
    fields: dict[str, str] = {}
    files: list[str] = []
    directory = ""
    for line in [*text.splitlines(), ""]:
        if not line.strip():
            if fields.get("P") and fields.get("V"):
                packages.append(
                    ApkPackage(
                        fields["P"], fields["V"], fields.get("A", ""), fields.get("o", fields["P"]), tuple(files)
                    )
                )
            fields, files, directory = {}, [], ""
            continue
        key, value = line[:1], line[2:]
        if key == "F":
            directory = value.strip("/")
        elif key == "R":
            files.append("/" + (f"{directory}/{value}" if directory else value))
        elif key in ("P", "V", "A", "o"):
            fields[key] = value
    return packages
