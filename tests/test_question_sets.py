"""The CTDL question sets: they load, their catalogues import, the matcher is fair, and (on the real model) a
slice of the held-out set is answered as a learner would be answered."""

from __future__ import annotations

import pytest

from evals import question_sets as qs
from knowledge import load_catalogue


@pytest.mark.parametrize("name", ["dev", "heldout"])
def test_sets_load_and_every_item_is_checked(name):
    loaded = qs.load_set(name)
    assert len(loaded.items) >= 50
    assert all(item.turns[-1].expect is not None for item in loaded.items)
    kinds = {item.kind for item in loaded.items}
    assert kinds == {"facts", "planner", "info", "unanswerable"}
    assert {"de", "fr", "es"} <= {item.language for item in loaded.items}


@pytest.mark.parametrize("name", ["dev", "heldout"])
def test_set_catalogue_imports_and_cited_titles_exist(name, tmp_path):
    loaded = qs.load_set(name)
    out, notes = qs.import_set(loaded, tmp_path / "catalogue")
    catalogue = load_catalogue(out)
    assert len(catalogue.credentials) >= 8 and len(catalogue.pathways) >= 2
    titles = {c.title.lower() for c in catalogue.credentials.values()} | {
        p.title.lower() for p in catalogue.pathways.values()}
    cited = {t.lower() for item in loaded.items for turn in item.turns if turn.expect for t in turn.expect.cites}
    missing = sorted(cited - titles)
    assert not missing, f"titles the questions cite that the import does not have: {missing}"
    assert notes >= 0


def test_unknown_set_is_a_clear_error(tmp_path):
    with pytest.raises(qs.SetError, match="no question set"):
        qs.load_set(tmp_path / "nowhere")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "questions.yaml").write_text("set: x\nitems: [{id: a}]\n", encoding="utf-8")
    with pytest.raises(qs.SetError, match="questions.yaml"):
        qs.load_set(bad)
    (bad / "questions.yaml").write_text("set: x\nitems: []\n", encoding="utf-8")
    with pytest.raises(qs.SetError, match="no catalogue folder"):
        qs.import_set(qs.load_set(bad), tmp_path / "out")
    (bad / "catalogue").mkdir()
    (bad / "catalogue" / "a.json").write_text("not json", encoding="utf-8")
    with pytest.raises(qs.SetError, match="does not import"):
        qs.import_set(qs.load_set(bad), tmp_path / "out")


@pytest.mark.parametrize(("answer", "figure", "found"), [
    ("Total EUR 1,150 for 10 weeks", "EUR 1,150", True),
    ("Insgesamt 1.150 € in 10 Wochen", "EUR 1,150", True),
    ("costs EUR 1,150.00", "EUR 1150", True),
    ("carries 15 ECTS", "5 ECTS", False),
    ("carries 4.5 ECTS", "4 ECTS", False),
    ("at EQF level 6.", "level 6", True),
    ("Responsible AI Auditing", "responsible ai auditing", True),
    ("USD 349", "EUR 349", False),
])
def test_matcher(answer, figure, found):
    assert qs.contains(answer, figure) is found


HELDOUT_SLICE = 6  # every sixth held-out item (15) on the real model, in a full run (./test.sh --full)


@pytest.mark.model
@pytest.mark.exhaustive  # about 4 minutes on 2 cores; the whole set's figures come from `stackwise eval questions`
def test_heldout_slice_on_the_real_model(settings, tmp_path):
    loaded = qs.load_set("heldout")
    ids = [item.id for item in loaded.items][::HELDOUT_SLICE]
    home = settings.model_copy(update={"home": tmp_path, "model_dir": settings.models_path})
    run = qs.run(home, "heldout", ["hybrid"], ids=ids, resume=False)
    print(qs.render(run))
    crashed = [r.id for r in run.results for t in r.turns if t.error]
    assert not crashed, f"items that raised instead of answering: {crashed}"
    summary = run.modes[0]
    # off-catalogue questions in the slice are refused without inventing anything
    assert summary.refusals_ok == summary.refusals_expected
    # the first held-out run answered 10 of these 15 right (59 % of the whole set); a floor below it, so a
    # regression shows while the figure itself is reported, not asserted
    assert summary.ok >= 0.5 * summary.items, f"held-out slice: {summary.ok}/{summary.items} right"
    assert summary.holdings_checked > 0
