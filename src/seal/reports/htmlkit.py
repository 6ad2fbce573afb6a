"""HTML pieces of `seal report` that every section, the domains' own included, builds its tables from: escaped
text (secrets redacted), percentages, tables, and the paired differences of two measures with their intervals."""

from __future__ import annotations

import html

from seal.store.runs import redact_text


def esc(x) -> str:
    """Text for the page, HTML-escaped, with any secret a stored value holds (a judge error quoting a URL with
    credentials, a run from before redaction) replaced by `***` (`redact_text`)."""
    return html.escape(redact_text(str(x)))


def pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def table(header: list[str], rows: list[list], left: int = 1) -> str:
    th = "".join(f'<th class="{"l" if i < left else ""}">{esc(h)}</th>' for i, h in enumerate(header)) \
        if any(header) else ""
    body = "".join("<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{esc(c)}</td>' for i, c in enumerate(r))
                   + "</tr>" for r in rows)
    return f"<table>{'<tr>' + th + '</tr>' if th else ''}{body}</table>"


def loglik_cell(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def signed_ci(d: dict, scale: float, digits: int) -> list[str]:
    """A paired difference's mean and 95% interval as two cells, scaled (100 for accuracy points)."""
    if d.get("mean") is None:
        return ["-", "-"]
    lo, hi = d["ci95"]
    return [f"{scale * d['mean']:+.{digits}f}",
            "-" if lo is None else f"[{scale * lo:+.{digits}f}, {scale * hi:+.{digits}f}]"]


def differences_table(diffs: dict[str, dict]) -> str:
    """The paired differences (accuracy in points, log-likelihood in nats per token) with their 95% intervals."""
    if not diffs:
        return ""
    rows = []
    for name, d in diffs.items():
        main = d["loglik"] if d["loglik"].get("mean") is not None else d["accuracy"]
        rows.append([name] + signed_ci(d["accuracy"], 100, 1) + signed_ci(d["loglik"], 1, 3)
                    + [main.get("n_items", 0), f"{main.get('n_units', 0)} {main.get('unit', '')}"])
    return "<h3>Paired differences</h3>" + table(
        ["a - b", "accuracy (points)", "95% CI", "loglik (nats/token)", "95% CI", "questions", "unit"], rows) + (
        '<p class="note">Paired per question (each condition averaged over its seeds and self-edits), then per '
        "passage; 95% Student t interval over passages (over questions when there is one passage).</p>")
