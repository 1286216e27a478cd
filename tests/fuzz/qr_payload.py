"""Fuzz target: the QR proof payload parser (kiosk/qr_payload.py) against hostile payloads.

    .venv/bin/python -m tests.fuzz.qr_payload --examples 100000

runs every property below with that many examples each and prints the count and the time.
The regular suite runs the same properties at FUZZ_EXAMPLES (default 200) through
tests/fuzz/test_qr_payload_fuzz.py.

The oracle is exact: the parser returns a ProofReference or a PayloadRejected for every input
(never raises), and it accepts a payload exactly when the payload is, byte for byte, one of the
two documented shapes built from the reference it returned (a bare number; the https URL on a
configured host): nothing is normalised, decoded or trimmed on the way. The inputs are arbitrary
bytes and text, valid payloads with one hostile edit (control and format characters, spaces,
percent-encoding, user info, ports, look-alike letters of other scripts, full-width digits, other
hosts and host suffixes, extra and repeated parameters), and overlong ones.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.qr_payload import (
    MAX_PAYLOAD,
    PayloadProblem,
    PayloadRejected,
    ProofReference,
    parse_proof_payload,
)

HOSTS = ("ywtb.sh.gov.cn", "fw.sh.gov.cn")
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))


def fuzz_settings(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --- strategies ---------------------------------------------------------------------------------

numbers = st.text(alphabet="0123456789", min_size=8, max_size=20)
codes = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=6, max_size=12)
valid_urls = st.builds(lambda h, n, c: f"https://{h}/proof?no={n}&code={c}", st.sampled_from(HOSTS), numbers, codes)
valid_payloads = st.one_of(numbers, valid_urls)

HOSTILE = [
    "\x00", "\r", "\n", "\t", "\x1b", "\x7f", "\x85", "\u200b", "\u200d", "\u202e", "\u2066", "\ufeff", "\u2028",
    " ", "\u00a0", "\u3000", "%", "%2e", "%2F", "%40", "%00", "%25", "@", "evil@", ":", ":443", ":8443", "#", "?",
    "&", "=", "&no=1", "&code=A", "/", "\\", "//", "..", ".", "-", "xn--", "\u0430", "\u0435", "\u043e", "\u0440",
    "\u0441", "\u0443", "\u0131", "\uff10", "\uff11", "\u0660", "\u06f1", "\u0969", "A", "a", "0", "9", "é",
    "\U0001f600", "\ud7ff", "\ue000",
]
OTHER_HOSTS = [
    "evil.example", "ywtb.sh.gov.cn.evil.example", "evil.example#ywtb.sh.gov.cn", "ywtb.sh.gov.cn@evil.example",
    "evil.example?ywtb.sh.gov.cn", "YWTB.SH.GOV.CN", "ywtb.sh.gov.cn.", "sh.gov.cn", "xn--ywtb-sh-gov-cn",
    "ywtb.sh.gov.cn:443", "ywtb.sh.gov.cn\\@evil", "ywtb\u3002sh\u3002gov\u3002cn", "уwtb.sh.gov.cn",
    "ywtb.sh.gov.\u0441n", "127.0.0.1", "[::1]", "", "ywtb..sh.gov.cn", "-ywtb.sh.gov.cn",
]


@st.composite
def edited(draw: st.DrawFn) -> str:
    """A valid payload with one hostile edit: an insertion, a replacement or a deletion."""
    base = draw(valid_payloads)
    i = draw(st.integers(0, len(base)))
    piece = draw(st.one_of(st.sampled_from(HOSTILE), st.text(min_size=1, max_size=3)))
    how = draw(st.sampled_from(("insert", "replace", "delete")))
    if how == "insert":
        return base[:i] + piece + base[i:]
    if how == "replace":
        return base[:i] + piece + base[i + len(piece):]
    return base[:i] + base[i + 1:]


@st.composite
def assembled(draw: st.DrawFn) -> str:
    """A URL put together from parts, each right or wrong."""
    scheme = draw(st.sampled_from(("https://", "http://", "HTTPS://", "https:/", "https:", "ftp://", "//",
                                   "javascript:", "data:", "")))
    userinfo = draw(st.sampled_from(("", "", "user@", "user:pw@", "@")))
    host = draw(st.one_of(st.sampled_from(HOSTS), st.sampled_from(OTHER_HOSTS)))
    port = draw(st.sampled_from(("", "", ":443", ":", ":8080")))
    path = draw(st.sampled_from(("/proof", "/proof", "/proof/", "/Proof", "", "/", "/proof/../proof", "/%70roof",
                                 "/proof;x")))
    params = draw(st.lists(st.sampled_from((
        f"no={draw(numbers)}", f"code={draw(codes)}", "no=", "code=", "no", "x=1", f"no={draw(numbers)}%00",
        "code=8f3k2q", "no=１２３４５６７８", "code=ABC DEF", "", "no==1",
    )), max_size=4))
    query = draw(st.sampled_from(("?", "?", "", "??")))
    fragment = draw(st.sampled_from(("", "", "#", "#frag")))
    return f"{scheme}{userinfo}{host}{port}{path}{query}{'&'.join(params)}{fragment}"


texts = st.one_of(st.text(max_size=300), edited(), assembled(), valid_payloads,
                  st.builds(lambda p, k: p * k, valid_payloads, st.integers(2, 20)))


# --- the oracle --------------------------------------------------------------------------------------


def check(raw: bytes) -> None:
    result = parse_proof_payload(raw, HOSTS)
    assert isinstance(result, ProofReference | PayloadRejected), result
    if isinstance(result, PayloadRejected):
        assert isinstance(result.problem, PayloadProblem)
        if len(raw) > MAX_PAYLOAD:
            assert result.problem is PayloadProblem.TOO_LONG
        return
    assert 8 <= len(result.number) <= 20 and result.number.isascii() and result.number.isdigit()
    if result.code is None:
        assert raw == result.number.encode("ascii")
    else:
        canonical = {f"https://{h}/proof?no={result.number}&code={result.code}".encode("ascii") for h in HOSTS}
        assert raw in canonical, raw


# --- properties --------------------------------------------------------------------------------------


def property_arbitrary_bytes(examples: int) -> Callable[[], None]:
    @fuzz_settings(examples)
    @given(st.binary(max_size=400))
    def run(raw: bytes) -> None:
        check(raw)

    return run


def property_hostile_text(examples: int) -> Callable[[], None]:
    @fuzz_settings(examples)
    @given(texts, st.sampled_from(("utf-8", "utf-16-le", "gb18030", "latin-1")))
    def run(text: str, encoding: str) -> None:
        check(text.encode(encoding, errors="replace"))

    return run


def property_valid_payloads_are_accepted(examples: int) -> Callable[[], None]:
    @fuzz_settings(examples)
    @given(valid_payloads)
    def run(text: str) -> None:
        assert isinstance(parse_proof_payload(text.encode("ascii"), HOSTS), ProofReference)
        check(text.encode("ascii"))

    return run


PROPERTIES = {
    "arbitrary_bytes": property_arbitrary_bytes,
    "hostile_text": property_hostile_text,
    "valid_payloads_are_accepted": property_valid_payloads_are_accepted,
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="fuzz the QR proof payload parser")
    ap.add_argument("--examples", type=int, default=100_000, help="examples per property")
    args = ap.parse_args(argv)
    total = 0
    started = time.perf_counter()
    for name, make in PROPERTIES.items():
        t0 = time.perf_counter()
        make(args.examples)()
        print(f"{name}: {args.examples} examples, {time.perf_counter() - t0:.1f} s, no failure", flush=True)
        total += args.examples
    print(f"total: {total} examples in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
