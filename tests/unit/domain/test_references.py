import pytest

from moorage.domain.errors import ErrorCode, RegistryError
from moorage.domain.references import validate_name, validate_tag


@pytest.mark.parametrize("name", ["library/ubuntu", "a", "a-b/c__d/e.f", "x0/y--1", "a" * 255])
def test_names_from_the_spec_grammar_are_accepted(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    "name", ["Upper", "a//b", "/a", "a/", "a/../b", "..", "a/.b", "a_", "a" * 256, "a b", "a%2fb", "-a"]
)
def test_names_outside_the_grammar_are_name_invalid(name: str) -> None:
    with pytest.raises(RegistryError) as raised:
        validate_name(name)
    assert raised.value.code is ErrorCode.NAME_INVALID


@pytest.mark.parametrize("tag", ["latest", "v1.0.0", "_x", "A" * 128])
def test_tags_from_the_spec_grammar_are_accepted(tag: str) -> None:
    assert validate_tag(tag) == tag


@pytest.mark.parametrize("tag", [".x", "-x", "A" * 129, "a/b", "", "a:b"])
def test_tags_outside_the_grammar_are_refused(tag: str) -> None:
    with pytest.raises(RegistryError):
        validate_tag(tag)
