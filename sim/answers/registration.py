"""The cooperative resident at the registration service: picks its declaration's answers, presents
its proof as `present` says (the QR code to the scanner, or the number typed), confirms the
promise letter, types its phone and takes the receipt (taps done)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.answers.new_permit import type_digits

if TYPE_CHECKING:
    from kiosk.view import View
    from sim.runner import ScenarioPlayer
    from sim.scenario import DeclarationSpec

# The scenario's relationship words → the choices the relative screen offers.
RELATIVE_CHOICE = {"sibling": "full_sibling"}


def _declaration(player: ScenarioPlayer) -> DeclarationSpec | None:
    return player.scenario.who.declaration


def answer(player: ScenarioPlayer, view: View) -> bool | None:
    screen, decl = view.screen, _declaration(player)
    if screen == "registration.proof_type":
        return decl is not None and player.tap(view, f"choice.{decl.proof.value}")
    if screen == "registration.proof":
        if decl is None:
            return player.tap(view, "cancel")
        if decl.present == "qr" and view.data.get("scanner"):
            # Shown once, and again (three times at most) after a code the screen says was not a
            # proof's; never typed instead, so a broken QR path fails the scenario.
            # A code the scanner swallowed (nothing happens) is shown again once the kiosk is idle.
            again = player.proofs_shown < 3 and (bool(view.data.get("problem")) or player.settled())
            if player.proofs_shown == 0 or again:
                player.show_proof(decl.proof_number)
                return True
            return False
        # Typed by choice, or the QR way is not there (no scanner, or it is down): type it.
        return type_digits(player, view, decl.proof_number, limit=20)
    if screen == "registration.relative":
        wanted = decl.relative if decl is not None and decl.relative else "friend"
        return player.tap(view, f"choice.{RELATIVE_CHOICE.get(wanted, wanted)}")
    if screen == "registration.purpose":
        return player.tap(view, f"choice.{decl.reason if decl is not None else 'work'}")
    if screen == "registration.address":
        return player.tap(view, "answer.yes")
    if screen == "registration.phone":
        return type_digits(player, view, player.scenario.who.phone)
    return None
