"""Writing a grading evaluation: ``summary.json``, ``items.jsonl``, a self-contained ``report.html`` (figures
embedded as base64 PNG, no external assets), and the dataset's licence beside any copied dataset text."""

from __future__ import annotations

import base64
import io
import json
import shutil
from pathlib import Path

from evals.grading_eval.results import GradingEvalResult
from evals.reporting import fmt as _fmt
from evals.reporting import pct as _pct
from evals.reporting import render

FILES = ("summary.json", "items.jsonl", "report.html")


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


def render_html(result: GradingEvalResult) -> str:
    """The self-contained report (``evals/templates/grading_report.html.j2``, autoescaped)."""
    errors = sorted((x for x in result.records if x.predicted != x.gold), key=lambda x: -x.confidence)[:12]
    return render("grading_report.html.j2", result=result, figs=figures(result), errors=errors)


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
