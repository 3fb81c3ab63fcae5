"""Index build, reopen, incremental sync and search on the real embedding model and a real Chroma dir."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from knowledge import load_catalogue
from knowledge.documents import catalogue_documents
from knowledge.index import CatalogueIndex, IndexNotBuilt
from knowledge.search import SearchError, rrf, search, tokenize
from stackwise.cli import app
from stackwise.config import BUNDLED_CATALOGUE
from tests import catalogue_factory as f


@pytest.fixture(scope="module")
def demo():
    return load_catalogue(BUNDLED_CATALOGUE)


@pytest.fixture(scope="module")
def demo_index(tmp_path_factory, demo):
    """One demo index shared by the read-only tests of this module."""
    index = CatalogueIndex.open(tmp_path_factory.mktemp("demo-index"))
    index.sync(demo)
    return index


def test_build_reopen_and_unchanged_sync_is_free(settings, demo):
    index = CatalogueIndex.open(settings.chroma_path)
    first = index.sync(demo)
    docs = catalogue_documents(demo)
    assert first.added == first.total == len(docs) == index.count()

    reopened = CatalogueIndex.open(settings.chroma_path)  # a new client on the same directory
    again = reopened.sync(demo)
    assert (again.added, again.updated, again.removed, again.unchanged) == (0, 0, 0, len(docs))
    assert {d.id for d in reopened.documents()} == {d.id for d in docs}


def test_incremental_sync_embeds_only_changes(settings, tmp_path):
    root = f.small_catalogue(tmp_path / "cat")
    index = CatalogueIndex.open(settings.chroma_path)
    index.sync(load_catalogue(root))

    data = yaml.safe_load((root / "credentials.yaml").read_text())
    data["credentials"][2]["summary"] = "Now about beekeeping with sensors."
    del data["credentials"][1]  # beta leaves; the pathway still needs a valid rule
    (root / "credentials.yaml").write_text(yaml.safe_dump(data))
    f.write(root, "pathways.yaml", {"pathways": [f.pathway("route", [{"rule": "all_of", "credentials": ["alpha"]}])]})

    stats = index.sync(load_catalogue(root))
    assert stats.removed == 4  # beta's four sections
    assert stats.added == 0
    assert stats.updated >= 1
    top = search(index, "beekeeping sensors", k=1)[0]
    assert top.entity_id == "gamma"


def test_rebuild_reembeds_everything(settings, demo):
    index = CatalogueIndex.open(settings.chroma_path)
    index.sync(demo)
    stats = index.sync(demo, rebuild=True)
    assert stats.added == stats.total == index.count()


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_search_finds_ethics_credentials(demo_index, demo, mode):
    ethics = {c.id for c in demo.credentials.values() if "ethic" in c.title.lower() or "responsible" in c.title.lower()}
    assert ethics
    hits = search(demo_index, "credentials about AI ethics", k=5, mode=mode)
    assert len(hits) == 5
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert any(h.entity_id in ethics for h in hits[:3])


def test_hybrid_carries_both_scores(demo_index):
    hits = search(demo_index, "prompt engineering portfolio", k=3)
    assert any(h.dense_score is not None and h.bm25_score is not None for h in hits)


def test_empty_query_and_empty_index(settings, demo_index):
    # settings points at a fresh, empty Chroma directory
    with pytest.raises(SearchError):
        search(demo_index, "   \n ")
    with pytest.raises(IndexNotBuilt):
        search(CatalogueIndex.open(settings.chroma_path), "anything")


def test_huge_query_is_truncated_not_fatal(demo_index):
    assert search(demo_index, "data strategy " * 5000, k=2)


def test_rrf_and_tokenize_are_pure():
    assert rrf([["a", "b"], ["b", "c"]]) == pytest.approx({"a": 1 / 61, "b": 1 / 62 + 1 / 61, "c": 1 / 62})
    assert tokenize("The Ethics of Policies and Classes") == ["ethic", "policy", "class"]


def test_cli_index_and_search_json(settings):
    runner = CliRunner()
    built = runner.invoke(app, ["index"])
    assert built.exit_code == 0, built.output
    assert "added" in built.output
    result = runner.invoke(app, ["search", "credentials about AI ethics", "--json", "--k", "4"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["query"] == "credentials about AI ethics" and len(payload["results"]) == 4
    assert {"id", "entity_id", "score", "title", "text"} <= set(payload["results"][0])
    bad = runner.invoke(app, ["search", "", "--json"])
    assert bad.exit_code == 2 and "empty" in bad.output and "Traceback" not in bad.output
