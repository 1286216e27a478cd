"""The QR proof payload parser (kiosk/qr_payload.py): the two documented shapes, and a typed
problem for everything else (docs/protocols/qr-proofs.md)."""

from __future__ import annotations

import pytest

from kiosk.qr_payload import (
    MAX_PAYLOAD,
    PayloadProblem,
    PayloadRejected,
    ProofReference,
    parse_proof_payload,
    valid_number,
)
from sim.proofs import code_matches, proof_payload, verification_code

HOSTS = ("ywtb.sh.gov.cn", "fw.sh.gov.cn")
URL = "https://ywtb.sh.gov.cn/proof?no=2026310105000123&code=8F3K2Q"
P = PayloadProblem


def parse(text: str | bytes) -> ProofReference | PayloadRejected:
    return parse_proof_payload(text.encode("utf-8") if isinstance(text, str) else text, HOSTS)


def test_the_url_shape_gives_the_number_and_the_code() -> None:
    assert parse(URL) == ProofReference("2026310105000123", "8F3K2Q")
    assert parse("https://fw.sh.gov.cn/proof?no=12345678&code=ABCDEF123456") == ProofReference("12345678",
                                                                                            "ABCDEF123456")


def test_a_bare_number_gives_the_number_without_a_code() -> None:
    assert parse("2026310105000123") == ProofReference("2026310105000123", None)
    assert parse("1" * 8) == ProofReference("1" * 8)
    assert parse("1" * 20) == ProofReference("1" * 20)


@pytest.mark.parametrize(("payload", "problem"), [
    (b"", P.EMPTY),
    (b"1" * (MAX_PAYLOAD + 1), P.TOO_LONG),
    ((URL + "&" + "x" * 300).encode(), P.TOO_LONG),
    (b"2026\xff0105000123", P.NOT_UTF8),
    (URL.encode()[:-2] + b"\xc3\x28", P.NOT_UTF8),
    ("2026310105000123\r", P.CONTROL_CHARS),
    ("2026310105000123\n", P.CONTROL_CHARS),
    ("2026310105\x00000123", P.CONTROL_CHARS),
    ("https://ywtb.sh.gov.cn\u200b/proof?no=2026310105000123&code=8F3K2Q", P.CONTROL_CHARS),  # zero width space
    ("https://ywtb.sh.gov.cn/proof?no=2026310105000123&code=\u202e8F3K2Q", P.CONTROL_CHARS),  # bidi override
    ("\ufeff2026310105000123", P.CONTROL_CHARS),  # a byte-order mark
    (" 2026310105000123", P.WHITESPACE),
    ("2026310105000123 ", P.WHITESPACE),
    ("2026 3101 0500 0123", P.WHITESPACE),
    ("2026310105000123\u3000", P.WHITESPACE),  # ideographic space
    ("２０２６３１０１０５０００１２３", P.NOT_ASCII),  # full-width digits
    ("https://уwtb.sh.gov.cn/proof?no=2026310105000123&code=8F3K2Q", P.NOT_ASCII),  # Cyrillic у
    ("https://ywtb.sh.gov.\u0441n/proof?no=2026310105000123&code=8F3K2Q", P.NOT_ASCII),  # Cyrillic с
    ("https://ywtb。sh。gov。cn/proof?no=2026310105000123&code=8F3K2Q", P.NOT_ASCII),  # ideographic full stops
    ("https://ywtb.sh.gov.cn/proof?no=٢٠٢٦٣١٠١٠٥٠٠٠١٢٣&code=8F3K2Q", P.NOT_ASCII),  # Arabic-Indic digits
    ("https://ywtb.sh.gov.cn/proof?no=2026310105000123&code=8F3K2%51", P.PERCENT_ENCODED),
    ("https://ywtb.sh.gov.cn/%70roof?no=2026310105000123&code=8F3K2Q", P.PERCENT_ENCODED),
    ("https://ywtb%2esh.gov.cn/proof?no=2026310105000123&code=8F3K2Q", P.PERCENT_ENCODED),
    ("https://evil.example%2f@ywtb.sh.gov.cn/proof?no=2026310105000123&code=8F3K2Q", P.PERCENT_ENCODED),
    ("http://ywtb.sh.gov.cn/proof?no=2026310105000123&code=8F3K2Q", P.BAD_SCHEME),
    ("HTTPS://ywtb.sh.gov.cn/proof?no=2026310105000123&code=8F3K2Q", P.BAD_SCHEME),
    ("https:/ywtb.sh.gov.cn/proof?no=2026310105000123&code=8F3K2Q", P.BAD_SCHEME),
    ("//ywtb.sh.gov.cn/proof?no=2026310105000123&code=8F3K2Q", P.BAD_SCHEME),
    ("javascript:alert(1)", P.BAD_SCHEME),
    ("weixin://dl/business/?t=abc", P.BAD_SCHEME),
    ("https://ywtb.sh.gov.cn@evil.example/proof?no=2026310105000123&code=8F3K2Q", P.BAD_HOST),
    ("https://user@ywtb.sh.gov.cn/proof?no=2026310105000123&code=8F3K2Q", P.BAD_HOST),
    ("https://ywtb.sh.gov.cn:443/proof?no=2026310105000123&code=8F3K2Q", P.BAD_HOST),
    ("https://ywtb.sh.gov.cn:/proof?no=2026310105000123&code=8F3K2Q", P.BAD_HOST),
    ("https://YWTB.SH.GOV.CN/proof?no=2026310105000123&code=8F3K2Q", P.BAD_HOST),
    ("https://ywtb..sh.gov.cn/proof?no=2026310105000123&code=8F3K2Q", P.BAD_HOST),
    ("https://ywtb.sh.gov.cn./proof?no=2026310105000123&code=8F3K2Q", P.BAD_HOST),
    ("https:///proof?no=2026310105000123&code=8F3K2Q", P.BAD_HOST),
    ("https://ywtb.sh.gov.cn\\@evil.example/proof?no=2026310105000123&code=8F3K2Q", P.BAD_HOST),
    ("https://evil.example/proof?no=2026310105000123&code=8F3K2Q", P.UNKNOWN_HOST),
    ("https://ywtb.sh.gov.cn.evil.example/proof?no=2026310105000123&code=8F3K2Q", P.UNKNOWN_HOST),
    ("https://sh.gov.cn/proof?no=2026310105000123&code=8F3K2Q", P.UNKNOWN_HOST),
    ("https://xn--ywtb-9za.sh.gov.cn/proof?no=2026310105000123&code=8F3K2Q", P.UNKNOWN_HOST),  # punycode
    ("https://evil.example#ywtb.sh.gov.cn/proof?no=2026310105000123&code=8F3K2Q", P.UNKNOWN_HOST),
    ("https://ywtb.sh.gov.cn/proof/?no=2026310105000123&code=8F3K2Q", P.BAD_PATH),
    ("https://ywtb.sh.gov.cn/Proof?no=2026310105000123&code=8F3K2Q", P.BAD_PATH),
    ("https://ywtb.sh.gov.cn/x/../proof?no=2026310105000123&code=8F3K2Q", P.BAD_PATH),
    ("https://ywtb.sh.gov.cn/proof", P.BAD_PATH),
    ("https://ywtb.sh.gov.cn/proof?no=2026310105000123&code=8F3K2Q#x", P.BAD_PATH),
    ("https://ywtb.sh.gov.cn?no=2026310105000123&code=8F3K2Q", P.BAD_PATH),
    ("https://ywtb.sh.gov.cn/proof?code=8F3K2Q&no=2026310105000123", P.BAD_PARAMS),
    ("https://ywtb.sh.gov.cn/proof?no=2026310105000123", P.BAD_PARAMS),
    ("https://ywtb.sh.gov.cn/proof?no=2026310105000123&code=8F3K2Q&x=1", P.BAD_PARAMS),
    ("https://ywtb.sh.gov.cn/proof?no=2026310105000123&no=2026310105000124", P.BAD_PARAMS),
    ("https://ywtb.sh.gov.cn/proof?no=2026310105000123&code=8F3K2Q&", P.BAD_PARAMS),
    ("https://ywtb.sh.gov.cn/proof?no==2026310105000123&code=8F3K2Q", P.BAD_PARAMS),
    ("https://ywtb.sh.gov.cn/proof?no=1234567&code=8F3K2Q", P.BAD_NUMBER),
    ("https://ywtb.sh.gov.cn/proof?no=2026310105000123x&code=8F3K2Q", P.BAD_NUMBER),
    ("https://ywtb.sh.gov.cn/proof?no=&code=8F3K2Q", P.BAD_NUMBER),
    ("https://ywtb.sh.gov.cn/proof?no=2026310105000123&code=8f3k2q", P.BAD_CODE),
    ("https://ywtb.sh.gov.cn/proof?no=2026310105000123&code=8F3K2", P.BAD_CODE),
    ("https://ywtb.sh.gov.cn/proof?no=2026310105000123&code=" + "A" * 13, P.BAD_CODE),
    ("https://ywtb.sh.gov.cn/proof?no=2026310105000123&code=8F3-2Q", P.BAD_CODE),
    ("1234567", P.BAD_NUMBER),
    ("1" * 21, P.BAD_NUMBER),
    ("2026-3101-0500-0123", P.UNRECOGNISED),
    ("沪房地长字(2026)第000123号", P.NOT_ASCII),
    ("proof 2026310105000123", P.WHITESPACE),
    ("ywtb.sh.gov.cn/proof?no=2026310105000123&code=8F3K2Q", P.UNRECOGNISED),
])
def test_everything_else_is_refused_with_its_problem(payload: str | bytes, problem: PayloadProblem) -> None:
    assert parse(payload) == PayloadRejected(problem)


def test_only_the_configured_hosts_are_accepted() -> None:
    assert parse_proof_payload(URL.encode(), ("fw.sh.gov.cn",)) == PayloadRejected(P.UNKNOWN_HOST)
    assert parse_proof_payload(URL.encode(), ()) == PayloadRejected(P.UNKNOWN_HOST)
    assert parse_proof_payload(b"2026310105000123", ()) == ProofReference("2026310105000123")


def test_a_typed_number_is_checked_like_a_scanned_one() -> None:
    assert valid_number("2026310105000123")
    assert not valid_number("1234567") and not valid_number("1" * 21) and not valid_number("１２３４５６７８")


def test_the_simulators_proof_codes_parse_and_verify() -> None:
    number = "2026310105000123"
    code = verification_code(number)
    assert code == verification_code(number) and len(code) == 6
    assert parse(proof_payload(number)) == ProofReference(number, code)
    assert code_matches(number, code) and not code_matches("2026310105000124", code)
