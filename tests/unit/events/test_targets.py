"""SSRF defences: which addresses webhooks may reach, checked when saved and again at every delivery."""

from __future__ import annotations

import ipaddress

import pytest

from moorage.events.delivery import Sender
from moorage.events.targets import TargetPolicy, TargetRefused, check_address, parse


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "169.254.0.1",
        "fd00:ec2::254",
        "::ffff:169.254.169.254",
        "fe80::1",
        "0.0.0.0",
        "::",
        "224.0.0.1",
        "100.100.100.200",
    ],
)
def test_metadata_link_local_and_non_unicast_addresses_are_always_refused(address: str) -> None:
    with pytest.raises(TargetRefused):
        check_address(ipaddress.ip_address(address), allow_private=True)


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "::1", "10.0.0.1", "172.16.3.4", "192.168.0.1", "fc00::1", "100.64.0.1"]
)
def test_private_and_loopback_addresses_need_the_setting(address: str) -> None:
    with pytest.raises(TargetRefused, match="webhook_allow_private_targets"):
        check_address(ipaddress.ip_address(address), allow_private=False)
    check_address(ipaddress.ip_address(address), allow_private=True)


def test_public_addresses_are_allowed() -> None:
    for address in ("93.184.215.14", "2606:4700::1111"):
        check_address(ipaddress.ip_address(address), allow_private=False)


def test_urls_are_http_with_a_host_and_no_credentials() -> None:
    assert parse("https://hooks.example.com/x?y=1").path == "/x?y=1"
    assert parse("http://[2606:4700::1111]:8080/").host_header == "[2606:4700::1111]:8080"
    for url in ("ftp://example.com/", "http:///x", "http://u:p@example.com/", "http://example.com:99999/", "x"):
        with pytest.raises(TargetRefused):
            parse(url)


def test_every_address_a_name_resolves_to_is_checked() -> None:
    mixed = TargetPolicy(allow_private=False, resolver=lambda host, port: ["93.184.215.14", "169.254.169.254"])
    with pytest.raises(TargetRefused, match="metadata"):
        mixed.check("https://hooks.example.com/")
    unresolvable = TargetPolicy(allow_private=False, resolver=lambda host, port: [])
    with pytest.raises(TargetRefused):
        unresolvable.check("https://hooks.example.com/")


def test_a_name_that_rebinds_to_loopback_after_it_was_saved_is_refused_at_delivery() -> None:
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])
    policy = TargetPolicy(allow_private=False, resolver=lambda host, port: next(answers))
    policy.check("http://rebind.example.com/hook")  # saved: it resolved to a public address
    sender = Sender(policy, timeout=1)
    try:
        result = sender.send("http://rebind.example.com/hook", {}, b"{}")
    finally:
        sender.close()
    assert not result.succeeded and result.status_code is None
    assert result.error is not None and "target refused" in result.error and "127.0.0.1" in result.error
