"""The repository's config/kiosk.toml turned into a production terminal's first /etc/kiosk/kiosk.toml.

    python3 deploy/production_config.py config/kiosk.toml /etc/kiosk/kiosk.toml.new

Only the values below change; every comment and every other key stays as the repository has it,
so the operator's file explains itself. Standard library only: it runs before the venv exists.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

# section -> key -> the production value (TOML text)
PRODUCTION: dict[str, dict[str, str]] = {
    "terminal": {"mode": '"production"'},
    "display": {"fullscreen": "true"},
    "journal": {"file": '"/var/lib/kiosk/journal.sqlite"'},
    "logging": {"file": '"/var/log/kiosk/kiosk.jsonl"', "stdout": "true", "rotate_bytes": "10485760",
                "rotate_files": "5", "journal_priority": "true"},
    "diagnostics": {"export_dir": '"/var/lib/kiosk/export"'},
}


def rewrite(text: str) -> str:
    out: list[str] = []
    section = ""
    done: set[tuple[str, str]] = set()
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("[") and not stripped.startswith("[["):
            section = stripped[1:stripped.index("]")].strip()
        key, sep, rest = line.partition("=")
        name = key.strip()
        if sep and not stripped.startswith("#") and name in PRODUCTION.get(section, {}):
            value, hash_, comment = rest.partition("#")
            # Keep the column of the comment where the repository put it.
            new_value = " " + PRODUCTION[section][name]
            pad = max(1, len(value) - len(new_value))
            line = f"{key}={new_value}{' ' * pad if hash_ else ''}{hash_}{comment}" if hash_ else \
                f"{key}={new_value}\n"
            done.add((section, name))
        out.append(line)
    wanted = {(s, k) for s, keys in PRODUCTION.items() for k in keys}
    if wanted - done:
        raise SystemExit(f"production_config: not found in the file: {sorted(wanted - done)}")
    result = "".join(out)
    tomllib.loads(result)  # still TOML
    return result


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    Path(argv[2]).write_text(rewrite(Path(argv[1]).read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
