"""The kiosk's only way to the instant-approval backend (即申即批), per docs/backend-api.yaml.

Every call returns a typed result; network and server trouble come back as a BackendFailure,
never as an exception. The backend is in four modules of one job each, re-exported here so
that `from kiosk.backend import X` and `from kiosk import backend as bk` keep working:

- kiosk/backend_vocabulary.py  the registration vocabulary (relationships, proof documents), which
                               the simulated backend imports too, so both speak the same words
- kiosk/backend_types.py       the typed results and BackendFailure
- kiosk/backend_wire.py        JSON encoding of requests and checked decoding of answers
- kiosk/backend_client.py      BackendClient: the HTTP exchange, retries, TLS, logging

Whether the backend is up is the controller's business (it calls `health`); no module here keeps a
thread. Logs hold the operation, request id and disposition, never personal data (SH-PRIV-1).
"""

from __future__ import annotations

from kiosk.backend_client import BackendClient, tls_verify
from kiosk.backend_types import (
    ID_CARD_REASONS,
    REGISTRATION_REASONS,
    ApplicationInfo,
    ApplicationVoided,
    Approval,
    BackendFailure,
    Confirmed,
    EndorsementCheck,
    FaceCheck,
    FailureKind,
    PermitGrant,
    PermitInfo,
    PermitRecord,
    Precheck,
    ProofRejected,
    Receipt,
    Registered,
    RegistrationInfo,
    RegistrationRefused,
    Relative,
    Rewritten,
    StatusReport,
    UnknownPermit,
    VerifiedProof,
    Voided,
    WindowInfo,
)
from kiosk.backend_vocabulary import (
    CLOSE_RELATIVES,
    DOCUMENT_FOR,
    RELATIVE_KINDS,
    Party,
    ProofDocument,
    PropertyUse,
    Relationship,
)
from kiosk.backend_wire import card_json, new_request_id

__all__ = [
    "CLOSE_RELATIVES",
    "DOCUMENT_FOR",
    "ID_CARD_REASONS",
    "REGISTRATION_REASONS",
    "RELATIVE_KINDS",
    "ApplicationInfo",
    "ApplicationVoided",
    "Approval",
    "BackendClient",
    "BackendFailure",
    "Confirmed",
    "EndorsementCheck",
    "FaceCheck",
    "FailureKind",
    "Party",
    "PermitGrant",
    "PermitInfo",
    "PermitRecord",
    "Precheck",
    "ProofDocument",
    "ProofRejected",
    "PropertyUse",
    "Receipt",
    "Registered",
    "RegistrationInfo",
    "RegistrationRefused",
    "Relationship",
    "Relative",
    "Rewritten",
    "StatusReport",
    "UnknownPermit",
    "VerifiedProof",
    "Voided",
    "WindowInfo",
    "card_json",
    "new_request_id",
    "tls_verify",
]
