"""TLS for the backend client: the SSL context for mutual TLS, and why a handshake failed (issue 15).

The kiosk presents its terminal certificate and trusts only the configured CA (config [backend]
client_cert, client_key, ca_file). A failed handshake becomes BackendFailure(UNREACHABLE), so the
flows show BACKEND_UNAVAILABLE, and one log event (BACKEND_TLS_FAILED) names the cause as OpenSSL
reports it: the server's certificate not trusted or expired (`verify:` and OpenSSL's verify
message), or the server refusing ours (`alert:` and the alert, e.g. SSLV3_ALERT_CERTIFICATE_EXPIRED,
TLSV1_ALERT_UNKNOWN_CA, TLSV13_ALERT_CERTIFICATE_REQUIRED).
"""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from pathlib import Path


def tls_verify(verify: bool | str | ssl.SSLContext, cert: str | tuple[str, str] | None) -> bool | ssl.SSLContext:
    """What httpx takes as `verify`: a CA file and a client certificate become one SSL context.

    httpx 0.28 deprecates passing a CA path or `cert` directly; an SSLContext is the supported way.
    """
    if isinstance(verify, ssl.SSLContext):
        context = verify
    elif isinstance(verify, str):
        context = ssl.create_default_context(cafile=verify)
    elif cert is None:
        return verify
    elif verify:
        context = ssl.create_default_context()
    else:  # a client certificate without checking the server: for a test bench only
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert is not None:
        certfile, keyfile = (cert, None) if isinstance(cert, str) else cert
        context.load_cert_chain(certfile, keyfile)
    return context


def _ssl_errors(exc: BaseException) -> list[ssl.SSLError]:
    found: list[ssl.SSLError] = []
    cause: BaseException | None = exc
    seen = 0
    while cause is not None and seen < 20:
        if isinstance(cause, ssl.SSLError):
            found.append(cause)
        cause = cause.__cause__ or cause.__context__
        seen += 1
    return found


def is_tls_refusal(exc: BaseException) -> bool:
    """Our side refused the server's certificate: it stays refused, retrying only delays."""
    return any(isinstance(e, ssl.SSLCertVerificationError) for e in _ssl_errors(exc))


def tls_cause(exc: BaseException) -> str | None:
    """Why the TLS exchange failed, in OpenSSL's words; None when TLS is not the cause."""
    for e in _ssl_errors(exc):
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"verify:{e.verify_message}"
        if e.reason:
            return f"alert:{e.reason}" if "ALERT" in e.reason else f"tls:{e.reason}"
    return None


def refusal_cause(cert_file: str, now: datetime | None = None) -> str:
    """Why a server that closed the connection right after the handshake refused our certificate.

    A server on asyncio's TLS (uvicorn) drops the connection without the TLS alert reaching us, so
    the kiosk reads its own certificate: expired or not yet valid says itself; otherwise the issuer
    is named, for the technician to compare with the CA the backend trusts."""
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
    except (OSError, ValueError):
        return "client_certificate_unreadable"
    at = now or datetime.now(UTC)
    if cert.not_valid_after_utc < at:
        return f"client_certificate_expired:{cert.not_valid_after_utc.date().isoformat()}"
    if cert.not_valid_before_utc > at:
        return f"client_certificate_not_yet_valid:{cert.not_valid_before_utc.date().isoformat()}"
    return f"refused_after_handshake:issuer={cert.issuer.rfc4514_string()}"
