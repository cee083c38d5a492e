"""Java archives: pom.properties, manifests, nested jars one level deep, and bounded reads."""

from __future__ import annotations

import io
import zipfile

import pytest

from moorage.scanning.inventory import Limits, inventory_image, summarise_layer
from moorage.scanning.inventory.java import MAX_METADATA_ENTRY, maven_artifacts, read_jar
from tests.support.scan_images import as_layer, gzip_layer, inventory_layers, jar


def packages(files: dict) -> set[tuple[str, str, str]]:  # type: ignore[type-arg]
    return {(p.name, p.version, p.path) for p in inventory_image(inventory_layers([files])).packages}


def test_pom_properties_name_the_artifact() -> None:
    files = {"app/log4j-core-2.14.1.jar": jar([("org.apache.logging.log4j", "log4j-core", "2.14.1")])}
    (package,) = inventory_image(inventory_layers([files])).packages
    assert (package.name, package.version, package.ecosystem) == (
        "org.apache.logging.log4j:log4j-core",
        "2.14.1",
        "Maven",
    )
    assert package.purl == "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"


def test_a_shaded_jar_lists_every_artifact_inside() -> None:
    shaded = jar([("com.example", "app", "1.0.0"), ("com.fasterxml.jackson.core", "jackson-databind", "2.13.0")])
    assert {name for name, _, _ in packages({"app.jar": shaded})} == {
        "com.example:app",
        "com.fasterxml.jackson.core:jackson-databind",
    }


def test_nested_jars_are_read_one_level_deep() -> None:
    innermost = jar([("org.deep", "hidden", "0.1")])
    inner = jar([("com.google.guava", "guava", "31.1-jre")], nested={"lib/deeper.jar": innermost})
    outer = jar([("com.example", "service", "2.0.0")], nested={"BOOT-INF/lib/guava-31.1-jre.jar": inner})
    assert packages({"srv/service.jar": outer}) == {
        ("com.example:service", "2.0.0", "/srv/service.jar"),
        ("com.google.guava:guava", "31.1-jre", "/srv/service.jar!/BOOT-INF/lib/guava-31.1-jre.jar"),
    }


def test_a_jar_without_pom_properties_falls_back_to_its_manifest_and_file_name() -> None:
    manifest = {"Implementation-Vendor-Id": "commons-io", "Implementation-Version": "2.11.0"}
    osgi = {"Bundle-SymbolicName": "org.yaml.snakeyaml", "Bundle-Version": "1.33"}
    files = {
        "lib/commons-io-2.11.0.jar": jar(manifest=manifest),
        "lib/snakeyaml-1.33.jar": jar(manifest=osgi),
        "lib/mismatch-1.0.jar": jar(manifest={"Implementation-Vendor-Id": "x", "Implementation-Version": "2.0"}),
        "lib/plain.jar": jar(),
    }
    assert {(name, version) for name, version, _ in packages(files)} == {
        ("commons-io:commons-io", "2.11.0"),
        ("org.yaml:snakeyaml", "1.33"),
    }


def test_a_file_named_jar_that_is_not_a_zip_is_skipped() -> None:
    summary = summarise_layer(as_layer(gzip_layer({"app/fake.jar": b"PK\x03\x04 but not really"})))
    assert summary.files == {} and summary.hidden == ("app/fake.jar",)


def test_a_jar_above_its_bound_is_skipped() -> None:
    big = jar([("com.example", "big", "1.0")], nested={"padding.bin": bytes(range(256)) * 400})
    summary = summarise_layer(as_layer(gzip_layer({"app/big.jar": big})), Limits(max_jar_bytes=10_000))
    assert summary.files == {} and summary.hidden == ("app/big.jar",)


def test_oversized_metadata_entries_are_not_read() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        bomb = "groupId=a\nartifactId=b\nversion=1\n" + "#" * (MAX_METADATA_ENTRY * 4)
        archive.writestr("META-INF/maven/a/b/pom.properties", bomb)
    data = buffer.getvalue()
    record = read_jar(io.BytesIO(data), len(data), max_bytes=1 << 20)
    assert record == {"entries": []}
    assert maven_artifacts("x.jar", record) == []


def test_manifest_continuation_lines_are_joined() -> None:
    text = "Manifest-Version: 1.0\r\nImplementation-Vendor-Id: org.exam\r\n ple\r\nImplementation-Version: 3.1\r\n\r\n"
    record = {"entries": [["META-INF/MANIFEST.MF", text]]}
    artifacts = maven_artifacts("lib/widget-3.1.jar", record)
    assert [(a.name, a.version) for a in artifacts] == [("org.example:widget", "3.1")]


def test_a_central_directory_above_its_bound_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each entry costs zipfile an object: a jar of millions of empty entries is refused from its end record.
    from moorage.scanning.inventory import java

    many = jar([("com.example", "many", "1.0")], nested={f"x/{n}.txt": b"" for n in range(100)})
    assert read_jar(io.BytesIO(many), len(many), max_bytes=1 << 20) is not None
    monkeypatch.setattr(java, "MAX_CENTRAL_DIRECTORY", 2000)
    assert read_jar(io.BytesIO(many), len(many), max_bytes=1 << 20) is None
