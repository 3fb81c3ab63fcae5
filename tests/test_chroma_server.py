"""The catalogue index on a real Chroma server (``chroma run`` on 127.0.0.1: CI's, else the fixture's own):
index, re-index, search, the assistant through it, and a clear error when the server is down."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from knowledge import load_catalogue
from knowledge.documents import catalogue_documents
from knowledge.index import CatalogueIndex, ChromaServer, IndexUnavailable
from knowledge.search import search
from stackwise.cli import app
from stackwise.config import BUNDLED_CATALOGUE, get_settings
from stackwise.loopback import chroma_server, free_port
from tests import catalogue_factory as f

QUERIES = ["credentials about AI ethics", "building dashboards to visualise data", "cloud security basics",
           "machine learning with Python"]


@pytest.fixture(scope="module")
def server_url(chroma_url):
    return chroma_url


@pytest.fixture(scope="module")
def demo():
    return load_catalogue(BUNDLED_CATALOGUE)


@pytest.fixture(scope="module")
def server_index(server_url, demo):
    index = CatalogueIndex.open(server_url)
    index.sync(demo)
    return index


def test_demo_on_the_server_searches_like_the_local_directory(server_url, server_index, demo, tmp_path):
    docs = catalogue_documents(demo)
    assert server_index.location == server_url and server_index.count() == len(docs)
    local = CatalogueIndex.open(tmp_path / "local")
    local.sync(demo)
    for query in QUERIES:
        for mode in ("dense", "hybrid", "bm25"):
            on_server = search(server_index, query, k=5, mode=mode)
            on_disk = search(local, query, k=5, mode=mode)
            assert [h.id for h in on_server] == [h.id for h in on_disk], (query, mode)
            assert [h.score for h in on_server] == pytest.approx([h.score for h in on_disk], abs=1e-4)
    # a second client on the same server sees the same documents and has nothing to embed
    again = CatalogueIndex.open(server_url).sync(demo)
    assert (again.added, again.updated, again.removed, again.unchanged) == (0, 0, 0, len(docs))


def test_reindex_after_a_catalogue_change_updates_and_removes(server_url, tmp_path):
    root = f.small_catalogue(tmp_path / "cat")
    index = CatalogueIndex.open(server_url, collection="reindex_test")
    first = index.sync(load_catalogue(root))
    assert first.added == first.total == index.count()

    data = yaml.safe_load((root / "credentials.yaml").read_text())
    data["credentials"][2]["summary"] = "Now about beekeeping with sensors."
    del data["credentials"][1]  # beta leaves; the pathway still needs a valid rule
    (root / "credentials.yaml").write_text(yaml.safe_dump(data))
    f.write(root, "pathways.yaml", {"pathways": [f.pathway("route", [{"rule": "all_of", "credentials": ["alpha"]}])]})

    stats = CatalogueIndex.open(server_url, collection="reindex_test").sync(load_catalogue(root))
    assert stats.removed == 4 and stats.added == 0 and stats.updated >= 1  # beta's four sections went
    assert index.count() == first.total - 4
    assert not any(d.metadata.get("credential_id") == "beta" for d in index.documents())
    assert search(index, "beekeeping sensors", k=1)[0].entity_id == "gamma"
    rebuilt = index.sync(load_catalogue(root), rebuild=True)
    assert rebuilt.added == rebuilt.total == index.count()


def test_the_assistant_searches_the_server(server_url, server_index, settings):
    from assistant.api import AssistantService
    from stackwise.wiring import assistant_service

    service = assistant_service(settings.model_copy(update={"chroma_url": server_url}))
    assert service.index.location == server_url  # the wiring opened the server, not the local directory
    assert not (settings.chroma_path / "chroma.sqlite3").exists()
    ethics = {c.id for c in service.catalogue.credentials.values()
              if "ethic" in c.title.lower() or "responsible" in c.title.lower()}
    hits = search(service.index, "credentials about AI ethics", k=5)
    assert any(h.entity_id in ethics for h in hits[:3])
    # an off-topic question is refused with the nearest entries, found on the server (no model needed)
    offline = AssistantService(service.catalogue, service.index, service.memory)
    answer = offline.ask("chroma-server-learner", "What is the weather like in Paris tomorrow?")
    assert answer.refused and answer.citations
    assert {c.id for c in answer.citations} <= set(service.catalogue.credentials) | set(service.catalogue.pathways) \
        | set(service.catalogue.providers)


def test_index_and_search_commands_use_the_server(server_url, server_index, settings, monkeypatch):
    monkeypatch.setenv("STACKWISE_CHROMA_URL", server_url)
    get_settings.cache_clear()
    runner = CliRunner()
    built = runner.invoke(app, ["index"])
    assert built.exit_code == 0, built.output
    assert "0 added" in built.output and server_url in built.output
    found = runner.invoke(app, ["search", "credentials about AI ethics", "--k", "3"])
    assert found.exit_code == 0, found.output
    assert found.output.count("\n") >= 3
    assert not (settings.chroma_path / "chroma.sqlite3").exists()


def test_a_server_that_is_down_gives_one_clear_line(settings, monkeypatch):
    down = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(IndexUnavailable, match=f"cannot reach the Chroma server at {down}"):
        CatalogueIndex.open(down)

    monkeypatch.setenv("STACKWISE_CHROMA_URL", down)
    get_settings.cache_clear()
    runner = CliRunner()
    for args in (["search", "ethics"], ["index"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert f"error: cannot reach the Chroma server at {down}" in result.output
        assert "Traceback" not in result.output and result.output.strip().count("\n") == 0

    from stackwise.wiring import SetupError, assistant_service

    with pytest.raises(SetupError, match=down):
        assistant_service(settings.model_copy(update={"chroma_url": down}))


def test_a_server_that_stops_mid_way_is_named(tmp_path, demo):
    with chroma_server(tmp_path / "data") as url:
        index = CatalogueIndex.open(url, collection="stopping")
        assert index.count() == 0
    for call in (index.count, lambda: index.dense("ethics", 3), lambda: index.sync(demo)):
        with pytest.raises(IndexUnavailable, match=f"lost the Chroma server at {url}"):
            call()


@pytest.mark.parametrize("url", ["http://", "ftp://127.0.0.1:8000", "http://127.0.0.1:notaport",
                                 "http://127.0.0.1:8000/some/path"])
def test_a_malformed_url_is_named(url):
    with pytest.raises(IndexUnavailable, match="malformed") as caught:
        CatalogueIndex.open(url) if url.startswith("http") else ChromaServer.parse(url)
    assert repr(url) in str(caught.value)


def test_server_url_defaults():
    assert ChromaServer.parse("http://chroma") == ChromaServer("chroma", 8000, False)
    assert ChromaServer.parse("https://index.example.org/").url == "https://index.example.org:443"
