"""Guidance on the photo screen's live preview: what the photo checks say of the frame the
resident sees, as one word key for the screen ("closer", "too_dark", ...).

`kiosk/photo.py` judges a frame; this module only turns its verdict into the advice a resident
can act on while moving, and says where the head outline to align with goes. A problem a
check reports that has no advice of its own here is passed on as its own key (the screen then
words it from `photo.guide.<problem>` or falls back to a general "face the camera"), so a new
check needs no change here to be shown.

The preview is mirrored (devices/camera_preview.py), so "left" is the resident's own
left and also the left of the picture they see: a face left of centre in the camera's frame is
right of centre on the screen, and the resident moves to their left.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.photo import Box, PhotoCheck, PhotoProblem

# Where the outline is drawn, as fractions of the preview (the preview shows the frame's whole
# height): its centre and its height. Inside what the checks accept (head 0.30 to 0.62 of the
# frame's height, centre 0.18 to 0.58 from the top, at most 0.12 off centre sideways), in the
# middle of that range, so a head inside the outline passes with room to spare.
OUTLINE = (0.5, 0.40, 0.46)

# How often the core samples the preview for guidance (seconds between frames analysed).
SAMPLE_INTERVAL = 0.25

_ADVICE = {
    PhotoProblem.NO_FACE: "no_face",
    PhotoProblem.TWO_FACES: "two_faces",
    PhotoProblem.TOO_DARK: "too_dark",
    PhotoProblem.TOO_BRIGHT: "too_bright",
    PhotoProblem.BLURRED: "hold_still",
    PhotoProblem.TOO_SMALL: "closer",
    PhotoProblem.TOO_LARGE: "further",
}


@dataclass(frozen=True)
class Guidance:
    key: str  # "ok" when the frame would pass; else what to do (docs/screens.md, new_permit.photo)


def guidance(check: PhotoCheck, width: int, height: int) -> Guidance:
    problem = check.problem
    if problem is None:
        return Guidance("ok")
    if problem is PhotoProblem.OFF_CENTRE and check.face_box is not None:
        return Guidance(_direction(check.face_box, width, height))
    return Guidance(_ADVICE.get(problem, problem.value))


def _direction(box: Box, width: int, height: int) -> str:
    """Which way to move, the larger miss first (sideways, in the mirrored picture's terms)."""
    left, top, right, bottom = box
    dx = (left + right) / 2 / width - OUTLINE[0]
    dy = (top + bottom) / 2 / height - OUTLINE[1]
    if abs(dx) >= abs(dy):
        # dx < 0: left in the camera's frame, so right on the mirrored screen: move to the left.
        return "move_left" if dx < 0 else "move_right"
    return "move_up" if dy > 0 else "move_down"
