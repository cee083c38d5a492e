import hashlib

import pytest

from moorage.domain.digests import Digest
from moorage.domain.errors import ErrorCode, RegistryError


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_registered_algorithms_parse_and_print_back(algorithm: str) -> None:
    text = f"{algorithm}:{hashlib.new(algorithm, b'x').hexdigest()}"
    assert str(Digest.parse(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        "sha256",
        "md5:" + "a" * 32,
        "sha256:" + "A" * 64,
        "sha256:" + "a" * 63,
        "sha512:" + "a" * 64,
        "sha256:../../etc/passwd",
        "sha256:" + "g" * 64,
        "",
    ],
)
def test_malformed_or_unknown_digests_are_digest_invalid(text: str) -> None:
    with pytest.raises(RegistryError) as raised:
        Digest.parse(text)
    assert raised.value.code is ErrorCode.DIGEST_INVALID
    assert raised.value.status == 400


def test_digest_of_bytes_matches_hashlib() -> None:
    assert Digest.of(b"abc", "sha512").hex == hashlib.sha512(b"abc").hexdigest()
