"""Writing a grading evaluation: ``summary.json``, ``items.jsonl``, a self-contained ``report.html`` (figures
embedded as base64 PNG, no external assets), and the dataset's licence beside any copied dataset text."""

from __future__ import annotations

import base64
import html
import io
import json
import math
import shutil
from pathlib import Path

from evals.grading_eval.runner import GradingEvalResult

FILES = ("summary.json", "items.jsonl", "report.html")


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def figures(result: GradingEvalResult) -> dict[str, str]:
    """Base64 PNGs: risk–coverage, reliability diagram, confusion matrix."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out: dict[str, str] = {}
    r = result.routing
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    curves = ((r.curve_test, "evaluated items", "-"), (r.curve_calibration, "calibration items", "--"))
    for curve, label, style in curves:
        if curve:
            ax.plot([0.0] + [p.coverage for p in curve], [curve[0].accuracy] + [p.accuracy for p in curve],
                    style, label=f"{r.system}: {label}")
    ax.axhline(r.target_accuracy, color="grey", lw=0.8, ls=":", label=f"target accuracy {r.target_accuracy:.2f}")
    if r.threshold is not None:
        ax.axvline(r.test.coverage, color="tab:red", lw=0.8, label=f"threshold {r.threshold:.3f}: "
                   f"coverage {r.test.coverage:.0%} on the evaluated items")
    ax.set_xlabel("coverage (share decided automatically)")
    ax.set_ylabel("accuracy of automatic decisions")
    ax.set_xlim(0, 1)
    ax.set_ylim(max(0.0, min([p.accuracy or 0 for p in r.curve_test] + [0.5]) - 0.05), 1.01)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title("Risk–coverage")
    out["risk_coverage"] = _png(fig)

    fig, ax = plt.subplots(figsize=(5.0, 4.2))
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
    series = ((result.reliability, result.primary, "o"), (result.reliability_raw, "model (raw)", "s"))
    for bins, label, marker in series:
        pts = [(b.confidence, b.accuracy, b.count) for b in bins if b.count]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=marker, label=label)
    ax.set_xlabel("confidence of the predicted label")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Reliability (10 equal-width bins)")
    out["reliability"] = _png(fig)

    primary = result.system(result.primary)
    labels = result.labels
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(labels), 1.0 + 0.8 * len(labels)))
    ax.imshow(primary.confusion, cmap="Blues")
    for i, row in enumerate(primary.confusion):
        for j, v in enumerate(row):
            ax.text(j, i, str(v), ha="center", va="center", fontsize=9)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("human")
    ax.set_title(f"Confusion: {result.primary}")
    out["confusion"] = _png(fig)
    return out


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.6em 0 1.4em;font-size:.9em}td,th{border:1px solid #ccc;padding:.25em .5em;
text-align:left;vertical-align:top}th{background:#f3f3f3}.note{color:#555;font-size:.9em}.figs img{max-width:100%}
.figs{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}code{background:#f3f3f3;padding:0 .2em}
.primary{font-weight:600}"""


def render_html(result: GradingEvalResult) -> str:
    e = html.escape
    figs = figures(result)
    r = result.routing
    sys_rows = []
    for s in result.systems:
        cls = ' class="primary"' if s.name == result.primary else ""
        sys_rows.append([f"<span{cls}>{e(s.name)}</span>", s.kind, _fmt(s.accuracy), _fmt(s.macro_f1), _fmt(s.kappa),
                         _fmt(s.qwk), _fmt(s.auroc), _fmt(s.ece), _fmt(s.brier), e(s.description)])
    routing_rows = [
        ["calibration items", str(r.calibration.auto), _pct(r.calibration.coverage), _fmt(r.calibration.accuracy)],
        ["evaluated items", str(r.test.auto), _pct(r.test.coverage), _fmt(r.test.accuracy)],
    ]
    q_rows = [[e(q.question_id), e(q.question), str(q.n), e(", ".join(f"{k} {v}" for k, v in sorted(q.gold.items()))),
               _fmt(q.accuracy), _fmt(q.macro_f1), _fmt(q.mean_confidence), _pct(q.auto_share), _fmt(q.auto_accuracy)]
              for q in result.per_question]
    errors = sorted((x for x in result.records if x.predicted != x.gold), key=lambda x: -x.confidence)[:12]
    err_rows = [[e(x.id), e(x.gold), e(x.predicted), _fmt(x.confidence), "yes" if x.auto else "no",
                 e(" ".join(x.response.split())[:300])] for x in errors]
    config = ", ".join(f"{k}={v}" for k, v in result.scorer_config.items())
    gold = ", ".join(f"{k} {v}" for k, v in sorted(result.gold_distribution.items()))
    caveats = "".join(f"<li>{e(c)}</li>" for c in result.caveats)
    threshold = "none reached the target" if r.threshold is None else f"{r.threshold:.4f}"
    temperature = (f"; temperature fitted to the raw model: {result.fitted_temperature:.2f}"
                   if result.fitted_temperature else "")
    headers = ["system", "kind", "accuracy", "macro-F1", "Cohen's κ", "QWK", "AUROC", "ECE", "Brier", "what it is"]
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Grading evaluation: {e(result.dataset)} {e(result.split or '')}</title><style>{CSS}</style></head><body>
<h1>Grading evaluation: {e(result.dataset)} / {e(result.split or 'all items')}</h1>
<p>{e(result.description)}<br><span class="note">source {e(result.source)}; {e(result.licence_note)}</span></p>
<p>{result.items} items (human labels: {e(gold)}); model <code>{e(result.model)}</code>, prompt
<code>{e(result.prompt_id)}</code>; {result.scored} scored now, {result.from_cache} from the cache;
{result.seconds:.0f} s{f", {result.seconds_per_item:.2f} s per newly scored item" if result.seconds_per_item else ""}.
<br><span class="note">scorer: {e(config)}</span></p>
<p>Calibration items: {e(result.calibration_mode)}. Evaluated questions: {e(result.regime)}; example pool
{result.pool_items} graded answers{temperature}.</p>
<h2>Agreement with the human labels</h2>
{_table(headers, sys_rows)}
<p class="note">QWK only for ordinal scales; AUROC only for two labels (probability of the higher label). The primary
system (bold) is the one the routing and the figures below use.</p>
<h2>Routing: risk–coverage</h2>
<p>Items whose confidence reaches the threshold are decided automatically; the rest go to an assessor. Threshold
chosen on {e(r.chosen_on)} for accuracy ≥ {r.target_accuracy:.2f}: <b>{threshold}</b>.</p>
{_table(["", "decided automatically", "coverage", "accuracy of automatic decisions"], routing_rows)}
<p class="note">On the evaluated items: accuracy of the 60 % most confident {_fmt(r.accuracy_at_60_coverage)};
coverage an oracle threshold would reach at the target {_pct(r.coverage_at_target_oracle)}; area under the
risk–coverage curve {_fmt(r.aurc)} (lower is better).</p>
<div class="figs"><img alt="risk-coverage" src="data:image/png;base64,{figs['risk_coverage']}">
<img alt="reliability" src="data:image/png;base64,{figs['reliability']}">
<img alt="confusion matrix" src="data:image/png;base64,{figs['confusion']}"></div>
<h2>Caveats</h2><ul>{caveats or "<li>none recorded</li>"}</ul>
<h2>Per question / criterion</h2><p class="note">Worst first.</p>
{_table(["id", "question", "n", "human labels", "accuracy", "macro-F1", "mean confidence", "auto share",
         "auto accuracy"], q_rows)}
<h2>Most confident disagreements</h2>
{_table(["item", "human", "predicted", "confidence", "auto", "response"], err_rows)}
<p class="note">Started {e(result.started)}. Per-item results: items.jsonl; metrics: summary.json.</p>
</body></html>
"""


def write(result: GradingEvalResult, out: Path, licence: Path | None = None) -> list[Path]:
    """Write the report files into ``out`` (created); copy ``licence`` as DATASET-LICENSE.txt when given,
    because items.jsonl quotes the dataset's responses."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    path = out / "summary.json"
    path.write_text(json.dumps(result.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    written.append(path)
    path = out / "items.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for record in result.records:
            fh.write(json.dumps(record.model_dump(mode="json"), ensure_ascii=False) + "\n")
    written.append(path)
    path = out / "report.html"
    path.write_text(render_html(result), encoding="utf-8")
    written.append(path)
    if licence is not None and licence.is_file():
        path = out / "DATASET-LICENSE.txt"
        shutil.copyfile(licence, path)
        written.append(path)
    return written


def render_text(result: GradingEvalResult) -> str:
    """A short console summary."""
    r = result.routing
    lines = [f"{result.dataset} / {result.split or 'all'}: {result.items} items, "
             f"calibration {result.calibration_items} "
             f"({result.calibration_mode}); model {result.model}, prompt {result.prompt_id}; "
             f"{result.scored} scored, {result.from_cache} cached, {result.seconds:.0f} s",
             f"{'system':<24} {'acc':>6} {'macroF1':>8} {'kappa':>6} {'QWK':>6} {'AUROC':>6} {'ECE':>6}"]
    for s in result.systems:
        mark = "*" if s.name == result.primary else " "
        lines.append(f"{mark}{s.name:<23} {_fmt(s.accuracy):>6} {_fmt(s.macro_f1):>8} {_fmt(s.kappa):>6} "
                     f"{_fmt(s.qwk):>6} {_fmt(s.auroc):>6} {_fmt(s.ece):>6}")
    thr = "none" if r.threshold is None else f"{r.threshold:.3f}"
    lines.append(f"routing ({r.system}, target {r.target_accuracy:.2f}, threshold {thr} from {r.chosen_on}): "
                 f"coverage {_pct(r.test.coverage)} at accuracy {_fmt(r.test.accuracy)} on the evaluated items "
                 f"(calibration: {_pct(r.calibration.coverage)} at {_fmt(r.calibration.accuracy)}); "
                 f"accuracy at 60 % coverage {_fmt(r.accuracy_at_60_coverage)}")
    return "\n".join(lines)
