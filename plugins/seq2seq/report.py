"""The samples file of the title generator: a Markdown table of test articles with their reference
title, the best baseline's title and the generated one."""

from __future__ import annotations

ARTICLE_CHARACTERS = 80  # of each article the table shows


def cell(text: str) -> str:
    """``text`` safe inside a Markdown table cell (pipes escaped, never empty)."""
    return text.replace("|", "\\|").strip() or " "


def titles_table(
    articles: list[str],
    references: list[str],
    baseline: list[str],
    generated: list[str],
    baseline_name: str,
    rows: int,
) -> str:
    """The first ``rows`` articles (cut to :data:`ARTICLE_CHARACTERS`) as table rows."""
    lines = [
        f"| # | article | reference | baseline ({baseline_name}) | generated |",
        "|---|---|---|---|---|",
    ]
    for i in range(min(rows, len(articles))):
        article = articles[i][:ARTICLE_CHARACTERS] + (
            "…" if len(articles[i]) > ARTICLE_CHARACTERS else ""
        )
        fields = (article, references[i], baseline[i], generated[i])
        lines.append(f"| {i + 1} | " + " | ".join(cell(f) for f in fields) + " |")
    return "\n".join(lines) + "\n"
