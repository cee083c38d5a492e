"""HTTPS served directly: checking the certificate and key before serving and before each reload.

The key file is treated as ssh treats a private key: if other users may read or write it the
server refuses to start ("UNPROTECTED PRIVATE KEY FILE"), since the key is as good as published.
A key readable by its group only draws a warning: Debian's `ssl-cert` group (mode 0640) is the
usual way to share a host key with a service. Key material is never logged: errors name the file
and OpenSSL's reason, and the log shows the certificate's subject, serial and expiry.

This module runs in the long-lived supervisor of `moorage serve`, so it imports no application code.
"""

from __future__ import annotations

import logging
import os
import ssl
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

log = logging.getLogger("moorage")


class TlsConfigurationError(SystemExit):
    """The certificate or key cannot be served (missing, unreadable, unsafe, or not a pair)."""


@dataclass(frozen=True)
class ServedCertificate:
    subject: str
    serial: int
    not_after: datetime


def check_key_file_permissions(key: Path) -> None:
    try:
        mode = stat.S_IMODE(os.stat(key).st_mode)
    except OSError as error:
        raise TlsConfigurationError(f"moorage: cannot read the TLS key file {key}: {error.strerror}") from None
    if mode & 0o007:
        raise TlsConfigurationError(
            f"moorage: the TLS key file {key} is accessible to other users (mode {mode:04o}); "
            f"refusing to use it: `chmod 600 {key}` (or 640 for a group such as ssl-cert)"
        )
    if mode & 0o070:
        log.warning("the TLS key file %s is readable by its group (mode %04o)", key, mode)


def check_tls_files(cert: Path | None, key: Path | None) -> ServedCertificate | None:
    """Refuse a half configuration, an unsafe key file, or a certificate and key that are not a pair."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise TlsConfigurationError("moorage: HTTPS needs both a certificate (tls_cert_file) and a key (tls_key_file)")
    check_key_file_permissions(key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(str(cert), str(key))
    except OSError as error:  # ssl.SSLError is an OSError; neither message quotes the key
        reason = getattr(error, "reason", None) or error.strerror or type(error).__name__
        raise TlsConfigurationError(
            f"moorage: cannot use the TLS certificate {cert} with key {key}: {reason}"
        ) from None
    return describe_certificate(cert)


def describe_certificate(cert: Path) -> ServedCertificate:
    from cryptography import x509

    certificate = x509.load_pem_x509_certificate(cert.read_bytes())
    return ServedCertificate(
        subject=certificate.subject.rfc4514_string(),
        serial=certificate.serial_number,
        not_after=certificate.not_valid_after_utc,
    )


def announce(certificate: ServedCertificate, cert: Path) -> None:
    log.info(
        "serving TLS certificate %s (subject %s, serial %x, expires %s)",
        cert,
        certificate.subject,
        certificate.serial,
        certificate.not_after.isoformat(),
    )
