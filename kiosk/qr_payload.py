"""What a scanned QR code says about a residence proof: a typed reference or a typed rejection.

The payload is untrusted bytes from a scanner or a camera. Exactly two shapes are accepted
(docs/protocols/qr-proofs.md):

- a bare proof number: 8 to 20 ASCII digits, nothing else;
- `https://HOST/proof?no=NUMBER&code=CODE`, HOST exactly one of the configured government
  hosts (lower case), NUMBER as above, CODE 6 to 12 of A-Z and 0-9, the two parameters in that
  order and no others.

Everything else is refused with the first problem found, in a fixed order, so that the screen
can say in words what is wrong with the code. The parser is strict on purpose and never
normalises: no percent-decoding, no IDNA, no case folding, no trimming. A reference is only a
claim: the backend verifies every proof (number and code), and the kiosk decides nothing from
the payload alone. Every check is linear in the payload's length, which is bounded first.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum

MAX_PAYLOAD = 256  # bytes; the URL shape needs well under 120
NUMBER_MIN, NUMBER_MAX = 8, 20
CODE_MIN, CODE_MAX = 6, 12
SCHEME = "https://"
PATH = "/proof"
_DIGITS = frozenset("0123456789")
_CODE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")


class PayloadProblem(StrEnum):
    """Why a payload is not a proof reference (checked in this order)."""

    EMPTY = "empty"
    TOO_LONG = "too_long"  # over MAX_PAYLOAD bytes
    NOT_UTF8 = "not_utf8"
    CONTROL_CHARS = "control_chars"  # control, format (zero-width, bidi), line/paragraph separators
    WHITESPACE = "whitespace"  # spaces of any kind, anywhere
    NOT_ASCII = "not_ascii"  # other scripts, full-width digits, look-alike letters
    PERCENT_ENCODED = "percent_encoded"
    BAD_SCHEME = "bad_scheme"  # a URL, but not https://
    BAD_HOST = "bad_host"  # user info, a port, an empty or malformed host
    UNKNOWN_HOST = "unknown_host"  # a well-formed host that is not on the configured list
    BAD_PATH = "bad_path"  # not /proof, or a fragment
    BAD_PARAMS = "bad_params"  # parameters missing, extra, repeated or out of order
    BAD_NUMBER = "bad_number"  # the proof number is not 8 to 20 digits
    BAD_CODE = "bad_code"  # the verification code is not 6 to 12 of A-Z, 0-9
    UNRECOGNISED = "unrecognised"  # neither a number nor a URL


@dataclass(frozen=True)
class ProofReference:
    """A proof the resident claims: its number, and the verification code when the QR code had one."""

    number: str
    code: str | None = None


@dataclass(frozen=True)
class PayloadRejected:
    problem: PayloadProblem


def parse_proof_payload(raw: bytes, hosts: tuple[str, ...]) -> ProofReference | PayloadRejected:
    if not raw:
        return PayloadRejected(PayloadProblem.EMPTY)
    if len(raw) > MAX_PAYLOAD:
        return PayloadRejected(PayloadProblem.TOO_LONG)
    try:
        text = raw.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        return PayloadRejected(PayloadProblem.NOT_UTF8)
    problem = _character_problem(text)
    if problem is not None:
        return PayloadRejected(problem)
    if _DIGITS.issuperset(text):
        return _number(text) or ProofReference(text)
    if "%" in text:
        return PayloadRejected(PayloadProblem.PERCENT_ENCODED)
    if _looks_like_url(text):
        return _url(text, hosts)
    return PayloadRejected(PayloadProblem.UNRECOGNISED)


def valid_number(number: str) -> bool:
    """A proof number as a resident may type it: 8 to 20 ASCII digits."""
    return NUMBER_MIN <= len(number) <= NUMBER_MAX and _DIGITS.issuperset(number)


def _character_problem(text: str) -> PayloadProblem | None:
    problem: PayloadProblem | None = None
    for ch in text:
        if ch.isascii() and ch.isalnum():
            continue
        category = unicodedata.category(ch)
        if category in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            return PayloadProblem.CONTROL_CHARS
        if category == "Zs":
            problem = PayloadProblem.WHITESPACE
        elif not ch.isascii() and problem is None:
            problem = PayloadProblem.NOT_ASCII
    return problem


def _number(text: str) -> PayloadRejected | None:
    return None if valid_number(text) else PayloadRejected(PayloadProblem.BAD_NUMBER)


def _looks_like_url(text: str) -> bool:
    # A scheme (RFC 3986: a letter, then letters, digits, + - .) and a colon, or a // authority.
    head, colon, _ = text.partition(":")
    if text.startswith("//"):
        return True
    return bool(colon) and bool(head) and head[0].isalpha() and all(c.isalnum() or c in "+-." for c in head)


def _url(text: str, hosts: tuple[str, ...]) -> ProofReference | PayloadRejected:
    if not text.startswith(SCHEME):
        return PayloadRejected(PayloadProblem.BAD_SCHEME)
    rest = text[len(SCHEME):]
    cut = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    authority, tail = rest[:cut], rest[cut:]
    if "@" in authority or ":" in authority or "\\" in authority:
        return PayloadRejected(PayloadProblem.BAD_HOST)
    if not _well_formed_host(authority):
        return PayloadRejected(PayloadProblem.BAD_HOST)
    if authority not in hosts:
        return PayloadRejected(PayloadProblem.UNKNOWN_HOST)
    path, question, query = tail.partition("?")
    if path != PATH or not question or "#" in query:
        return PayloadRejected(PayloadProblem.BAD_PATH)
    params = query.split("&")
    if len(params) != 2:
        return PayloadRejected(PayloadProblem.BAD_PARAMS)
    no_key, _, number = params[0].partition("=")
    code_key, _, code = params[1].partition("=")
    if no_key != "no" or code_key != "code" or "=" in number or "=" in code:
        return PayloadRejected(PayloadProblem.BAD_PARAMS)
    if not valid_number(number):
        return PayloadRejected(PayloadProblem.BAD_NUMBER)
    if not (CODE_MIN <= len(code) <= CODE_MAX and _CODE_CHARS.issuperset(code)):
        return PayloadRejected(PayloadProblem.BAD_CODE)
    return ProofReference(number, code)


def _well_formed_host(host: str) -> bool:
    """Lower-case DNS labels of a-z, 0-9 and inner hyphens; at least two labels."""
    if not host or not _HOST_CHARS.issuperset(host):
        return False
    labels = host.split(".")
    return len(labels) >= 2 and all(
        0 < len(label) <= 63 and not label.startswith("-") and not label.endswith("-") for label in labels
    )
