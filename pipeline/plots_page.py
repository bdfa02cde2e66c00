"""``pipeline plots``: DVC's plots on one page that needs no network.

``dvc plots show`` writes a page that loads Vega from a CDN: offline, its charts stay blank and
nothing says why. This page holds every chart drawn as SVG by vl-convert (Vega and Vega-Lite
compiled into a Python wheel: no browser, no network) and DVC's images inline, and no script.
"""

from __future__ import annotations

import base64
import html
import json
import subprocess
import sys
from pathlib import Path

from pipeline.errors import PipelineError

DEFAULT_PAGE = Path("dvc_plots") / "offline.html"
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".svg": "image/svg+xml",
}


def dvc_plots(root: Path, revisions: list[str]) -> dict[str, list[dict]]:
    """What ``dvc plots show --json`` (``dvc plots diff REV... --json`` with revisions) gives:
    plot name → its entries, Vega-Lite specs with their data or images DVC wrote to disk."""
    command = ["plots", "diff", *revisions] if revisions else ["plots", "show"]
    done = subprocess.run(
        [sys.executable, "-m", "dvc", *command, "--json"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    said = [line for line in done.stderr.splitlines() if line.strip()]
    if done.returncode != 0:
        raise PipelineError(f"`dvc {' '.join(command)}` failed: {said[-1] if said else '?'}")
    shown = json.loads(done.stdout)
    if shown.get("errors"):
        raise PipelineError(f"`dvc {' '.join(command)}` could not load {shown['errors']}")
    if not shown.get("data"):
        raise PipelineError("there are no plots to show yet: run `dvc repro` first.")
    return shown["data"]


def chart(entry: dict) -> str:
    """One DVC plot entry as HTML: a Vega-Lite chart drawn to SVG, or an image inlined."""
    if entry["type"] == "vega":
        import vl_convert

        return vl_convert.vegalite_to_svg(entry["content"])
    path = Path(entry["url"])
    encoded = base64.b64encode(path.read_bytes()).decode()
    kind = IMAGE_TYPES.get(path.suffix.lower(), "application/octet-stream")
    return f'<img src="data:{kind};base64,{encoded}" alt="{html.escape(path.name)}">'


def write_page(root: Path, revisions: list[str], page: Path) -> int:
    """Write the page of every plot of ``revisions`` (the workspace without any) to ``page``;
    return how many charts and images it holds."""
    sections = []
    for name, entries in dvc_plots(root, revisions).items():
        for entry in entries:
            shown = ", ".join(entry.get("revisions", []))
            sections.append(
                f"<section><h2>{html.escape(name)} <small>{html.escape(shown)}</small></h2>\n"
                f"{chart(entry)}\n</section>"
            )
    title = f"plots: {', '.join(revisions) or 'workspace'}"
    text = (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        "<style>body{font-family:sans-serif;margin:2em}section{margin-bottom:2em}"
        "h2{font-size:1.1em}small{color:#666;font-weight:normal}</style></head>\n<body>\n"
        + "\n".join(sections)
        + "\n</body></html>\n"
    )
    page.parent.mkdir(parents=True, exist_ok=True)
    partial = page.with_name(f".{page.name}.tmp")
    partial.write_text(text, encoding="utf-8")
    partial.replace(page)
    return len(sections)
