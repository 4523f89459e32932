"""A stand-in for the data layer's network probe, so tests never touch the network."""

from __future__ import annotations


class FixedNetwork:
    """Answers the probe's question with a fixed value, at once, and counts the questions."""

    host = "download.invalid"
    timeout = 0.5

    def __init__(self, online: bool) -> None:
        self.online = online
        self.asked = 0

    def answer(self, *, wait: bool = True) -> bool | None:
        """The fixed answer, as ``NetworkProbe.answer`` would give it once settled."""
        self.asked += 1
        return self.online
