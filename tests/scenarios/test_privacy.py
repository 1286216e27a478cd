"""SH-PRIV-1: after a whole session, no resident data in anything the kiosk or the emulators wrote.

The kiosk runs as CI runs it (`run_kiosk.py --sim --headless --scenario ...`, its own process).
Scanned, as bytes:
- the kiosk process's stdout and stderr;
- every file of the session's work folder — the kiosk's event log and journal, the device hub's,
  the backend's and pcscd's logs (their stderr), and any file that appears there later — except
  the few that hold personal data by design (`BY_DESIGN`);
- the run's output folder: the report (with the printer emulator's records of the cards) and the
  screenshots (issue 15: test output masks resident data as the firmware does, sim/masking.py);
- the emulator processes' stdout after their ready line, which the launcher otherwise drops: a
  small wrapper around `sim.launcher.ManagedProcess.stop` reads it to the end before the pipe
  is closed and keeps it beside the logs.
Looked for: the resident's name, full ID number, household and residence address and phone, in
UTF-8, JSON `\\uXXXX` escapes (either case), Python's `\\xNN` byte escapes, UCS-2LE (the ID
card's text encoding) and UTF-16BE, GB18030, and hex dumps of those bytes (a logged frame or
APDU). A log that should be there and is missing or empty fails the test: a scan of nothing
proves nothing. Messages name the file, the field and the encoding, never the value.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.identity import mask_id
from sim.scenario import load

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "scenarios" / "cases"

# The logs a session must leave, and which of them must have something in them.
LOGS_PRESENT = ("kiosk.jsonl", "hub.log", "backend.log", "pcscd.log")
LOGS_NOT_EMPTY = ("kiosk.jsonl", "backend.log")
# Emulator processes whose stdout the wrapper keeps (sim/launcher.py names them so).
EMULATORS = ("device hub", "backend")
# Files that hold personal data by design, and why; everything else in the work folder is scanned.
BY_DESIGN = {
    "residents.json": "the scenario's population, written by the test harness for the emulators",
    "backend.sqlite": "the backend's own register of residents (another organisation's system)",
    "hub/printed/*.png": "the printer emulator's picture of each card face, which shows the holder "
                         "(its record beside it, card-NNNN.json, is scanned: the holder masked)",
}

# Runs the kiosk's real command line, keeping the emulators' stdout after their ready line.
WRAPPER = r"""
import os, sys
from pathlib import Path
sys.path.insert(0, os.getcwd())
import sim.launcher as launcher

out_dir = Path(os.environ["PRIVACY_EMULATOR_STDOUT"])
original_stop = launcher.ManagedProcess.stop

def stop(self, timeout=5.0):
    pipe = self.proc.stdout
    if pipe is None or pipe.closed:
        return original_stop(self, timeout)
    self.proc.stdout = None  # the original stop must not close it before it is read
    try:
        code = original_stop(self, timeout)
        rest = pipe.read()  # the process has ended: read to the end
    finally:
        pipe.close()
        self.proc.stdout = pipe
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / (self.name.replace(" ", "_") + ".stdout")).open("ab") as f:
        f.write(rest)
    return code

launcher.ManagedProcess.stop = stop
import run_kiosk
sys.exit(run_kiosk.main(sys.argv[1:]))
"""


def secrets_of(scenario_path: Path) -> dict[str, str]:
    """The resident's personal fields, by name (the names, never the values, go into messages)."""
    scenario = load(scenario_path)
    who = scenario.residents[scenario.resident]
    out = {"name": who.name, "id_number": who.id_number, "household_address": who.id_address,
           "phone": who.phone}
    if who.id_number.lower() != who.id_number:  # a check digit X, written in lower case
        out["id_number (lower case)"] = who.id_number.lower()
    if who.registration is not None:
        out["residence_address"] = who.registration.address
    for field in ("household_address", "residence_address"):
        if field in out:  # the street and number alone are as personal as the whole address
            address = out[field]
            out[f"{field} (second half)"] = address[len(address) // 2:]
    return out


def encodings(secret: str) -> dict[str, bytes]:
    utf8 = secret.encode("utf-8")
    ucs2 = secret.encode("utf-16-le")
    escaped = json.dumps(secret)[1:-1]
    forms = {
        "UTF-8": utf8,
        "UCS-2LE": ucs2,
        "UTF-16BE": secret.encode("utf-16-be"),
        "GB18030": secret.encode("gb18030"),
        "JSON \\u escapes": escaped.encode("ascii"),
        "JSON \\u escapes (upper case)": escaped.replace("\\u", "\\U").upper().replace("\\U", "\\u").encode(),
        "\\x byte escapes": "".join(f"\\x{b:02x}" for b in utf8).encode(),
        "hex of UTF-8": utf8.hex().encode(),
        "hex of UTF-8 (upper case)": utf8.hex().upper().encode(),
        "hex of UCS-2LE": ucs2.hex().encode(),
        "hex of UCS-2LE (upper case)": ucs2.hex().upper().encode(),
        "spaced hex of UCS-2LE": ucs2.hex(" ").upper().encode(),
    }
    # An ASCII secret (an ID number, a phone) is its own JSON escape; drop the duplicates.
    seen: set[bytes] = set()
    return {k: v for k, v in forms.items() if not (v in seen or seen.add(v))}


def leaks(blob: bytes, secrets: dict[str, str]) -> list[str]:
    found = []
    for field, secret in secrets.items():
        for encoding, needle in encodings(secret).items():
            if needle in blob:
                found.append(f"{field} as {encoding}")
    return found


def by_design(path: Path, workdir: Path) -> bool:
    rel = path.relative_to(workdir).as_posix()
    return any(path.match(p) if "*" in p else rel == p or rel.startswith(p + "/") or rel.startswith(p + "-")
               for p in BY_DESIGN)


def test_the_scanner_finds_each_encoding() -> None:
    secrets = {"name": "张伟", "id_number": "340102199003070010"}
    for field, secret in secrets.items():
        for encoding, needle in encodings(secret).items():
            assert leaks(b"..." + needle + b"...", {field: secret}), encoding
    id_text = "张伟".ljust(15).encode("utf-16-le")  # the ID card's name field, padded
    assert leaks(bytes.fromhex("aaaaaa9669") + id_text, secrets) == ["name as UCS-2LE"]
    assert leaks(json.dumps({"n": "张伟"}).encode(), secrets) == ["name as JSON \\u escapes"]
    assert leaks(b'{"id": "3401**********0010"}', secrets) == []  # the masked form is allowed


@pytest.mark.parametrize("case", ["issued_happy_path", "rewrite_endorsement_passed"])
def test_sh_priv_1_no_personal_data_in_any_output(case: str, tmp_path: Path) -> None:
    scenario = CASES / f"{case}.toml"
    out = tmp_path / "out"  # the run's output folder: the report, the screenshots, the printed faces
    report = out / "report.json"
    emulator_stdout = tmp_path / "emulator-stdout"
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy",
               PRIVACY_EMULATOR_STDOUT=str(emulator_stdout))
    proc = subprocess.run(
        [sys.executable, "-c", WRAPPER, "--sim", "--headless", "--scenario", str(scenario),
         "--report", str(report), "--screenshots", str(out / "shots"), "--keep-workdir"],
        cwd=ROOT, env=env, capture_output=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert report.exists(), f"no report (exit {proc.returncode})"
    data = json.loads(report.read_text(encoding="utf-8"))
    workdir = Path(data["workdir"])
    secrets = secrets_of(scenario)
    try:
        # The session itself must have worked, or there would be little to scan.
        assert proc.returncode == 0, data.get("failures")
        found: list[str] = []
        found += [f"kiosk stdout: {x}" for x in leaks(proc.stdout, secrets)]
        found += [f"kiosk stderr: {x}" for x in leaks(proc.stderr, secrets)]

        for name in LOGS_PRESENT:
            assert (workdir / name).is_file(), f"{name} is missing: nothing to scan"
        for name in LOGS_NOT_EMPTY:
            assert (workdir / name).stat().st_size > 0, f"{name} is empty: nothing to scan"
        for name in EMULATORS:
            path = emulator_stdout / (name.replace(" ", "_") + ".stdout")
            assert path.is_file(), f"the {name}'s stdout was not captured"
            found += [f"{name} stdout: {x}" for x in leaks(path.read_bytes(), secrets)]

        scanned = []
        for path in sorted(p for p in workdir.rglob("*") if p.is_file()):
            if by_design(path, workdir):
                continue
            scanned.append(path.relative_to(workdir).as_posix())
            found += [f"{path.relative_to(workdir)}: {x}" for x in leaks(path.read_bytes(), secrets)]
        assert {"kiosk.jsonl", "journal.sqlite", "hub.log", "backend.log"} <= set(scanned), scanned
        assert any(p.startswith("hub/printed/card-") and p.endswith(".json") for p in scanned), scanned

        # The output folder, whole: the report (with the printer's records) and the screenshots.
        outputs = sorted(p for p in out.rglob("*") if p.is_file())
        assert report in outputs and any(p.suffix == ".png" for p in outputs), outputs
        for path in outputs:
            found += [f"output {path.relative_to(out)}: {x}" for x in leaks(path.read_bytes(), secrets)]

        assert not found, "resident data found (SH-PRIV-1):\n  " + "\n  ".join(found)

        # Positive controls: the harness's own input holds the data (the scanner can see it), and the
        # kiosk's log carries what it may carry instead.
        assert leaks((workdir / "residents.json").read_bytes(), secrets)
        kiosk_log = (workdir / "kiosk.jsonl").read_text(encoding="utf-8")
        if load(scenario).service.value == "new_permit":
            masked = secrets["id_number"][:4] + "*" * 10 + secrets["id_number"][-4:]
            assert masked in kiosk_log, "the masked ID number is not in the kiosk's log"
        assert '"event": "SESSION_ENDED"' in kiosk_log, "the kiosk's log does not reach the session's end"
        # The report still carries what expectations read of the printed card, the holder masked.
        printed = data["printed"][-1]["fields"]
        assert printed["validity"]
        if load(scenario).service.value == "new_permit":  # a rewrite's ticket is the validity alone
            assert printed["name"] == secrets["name"][0] + "*" * (len(secrets["name"]) - 1)
            assert printed["id_number"] == mask_id(secrets["id_number"])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
