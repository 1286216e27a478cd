"""The emulated instant-approval backend (即申即批): another organisation's system, emulated.

It reads RULES.md on its own: nothing here imports the kiosk (tests/protocol/test_backend_isolation.py
scans for it), so the kiosk's cross-check of a decision can see this backend disagree.

    vocab     the wire vocabulary: reason codes, card types, proofs, statuses (enums)
    rules     the city pack (config/policy/<city>.toml), the date conventions, GB 11643
    decide    the decisions: new permit, registration, card-face rewrite, status and points
    store     SQLite: residents, registrations, permits, applications, endorsements, replies
    load      the population file a scenario writes
    contract  docs/backend-api.yaml as jsonschema validators, for requests and replies
    faults    the faults injected through /sim/faults or --faults
    ops       the operations: a checked request in, a reply out
    face      the stand-in for the authority's face service
    app       Starlette: routes, faults, validation, the log
The command line (uvicorn, TLS, the ready line) is sim/backend_server.py.
"""
