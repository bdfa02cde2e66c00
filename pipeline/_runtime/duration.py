"""How long something takes, written for a reader."""

from __future__ import annotations


def duration(seconds: float) -> str:
    """``seconds`` for a reader: "45 s", "12 min", "2 h 30 min"."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"
