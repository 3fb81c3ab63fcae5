"""Join a model's part files into one verified GGUF in a cache directory.

``assemble(spec, cache_dir)`` is idempotent and safe to call at every start:

* If ``cache_dir/spec.filename`` exists with the right size and its sidecar marker
  ``<file>.sha256`` (written only after a verified assembly, in ``sha256sum`` format) names the
  expected hash and is not older than the file, the file is reused without re-hashing it.
* If the file exists with the right size but has no valid marker (copied in by hand, say), it is
  hashed once; a match writes the marker and reuses it.
* Otherwise the parts are checked (present, right size), streamed in order into a temporary file
  in the same directory while hashing, the result's size and SHA-256 are checked, and the
  temporary file is moved over the target with ``os.replace`` (atomic on one file system). A
  failure never leaves a partial file behind under the target's name, and the temporary file is
  removed. A lock file serialises concurrent assemblers of the same model.

Every failure is a :class:`ModelAssemblyError` subclass whose message says what to do.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from llm.registry import ModelSpec

try:  # POSIX only; elsewhere assembly simply runs unlocked.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

CHUNK = 8 * 1024 * 1024
MARKER_SUFFIX = ".sha256"

PartPaths = Sequence[str | os.PathLike[str]] | Callable[[ModelSpec], Sequence[str | os.PathLike[str]]]


# --------------------------------------------------------------------------------------- errors
class ModelAssemblyError(RuntimeError):
    """Base class: the model file could not be assembled or verified."""


class PartNotInstalledError(ModelAssemblyError):
    """One or more part packages cannot be imported."""

    def __init__(self, spec: ModelSpec, missing: list[int]):
        self.spec = spec
        self.missing = missing
        names = ", ".join(spec.package_name(i) for i in missing)
        super().__init__(
            f"model {spec.name!r}: part package(s) not installed: {names}. Fix: {spec.install_command(missing)}"
        )


class PartFileError(ModelAssemblyError):
    """A part's file is missing or damaged. ``index`` is 1-based."""

    def __init__(self, spec: ModelSpec, index: int, path: Path | None, detail: str):
        self.spec = spec
        self.index = index
        self.path = path
        self.detail = detail
        super().__init__(
            f"model {spec.name!r}: part {index}/{spec.n_parts} ({spec.package_name(index)}, {path}) "
            f"{detail}. Fix: pip install --force-reinstall {spec.requirement(index)}"
        )


class PartMissingError(PartFileError):
    """The part package is importable but its data file does not exist."""


class PartSizeMismatchError(PartFileError):
    """A part's file has the wrong size (typically truncated)."""


class PartChecksumMismatchError(PartFileError):
    """A part's file has the right size but the wrong SHA-256."""


class ChecksumMismatchError(ModelAssemblyError):
    """The assembled (or existing) file has the wrong size or SHA-256."""

    def __init__(self, spec: ModelSpec, path: Path, detail: str):
        self.spec = spec
        self.path = path
        super().__init__(f"model {spec.name!r}: {path}: {detail}")


class CacheNotWritableError(ModelAssemblyError):
    """The cache directory cannot be created or written, or lacks free space."""

    def __init__(self, cache_dir: Path, detail: str):
        self.cache_dir = cache_dir
        super().__init__(
            f"model cache directory {cache_dir} is not usable: {detail}. "
            "Set STACKWISE_MODEL_DIR (or STACKWISE_HOME) to a writable directory."
        )


# ---------------------------------------------------------------------------------- part lookup
def default_part_paths(spec: ModelSpec) -> list[Path]:
    """Paths of the installed part files, via each part module's ``get_part_path()``.

    Raises :class:`PartNotInstalledError` naming every part that cannot be imported.
    """
    paths: list[Path] = []
    missing: list[int] = []
    for i in spec.indices:
        try:
            module = importlib.import_module(spec.module_name(i))
        except ImportError:
            missing.append(i)
            continue
        paths.append(Path(module.get_part_path()))
    if missing:
        raise PartNotInstalledError(spec, missing)
    return paths


def _resolve_part_paths(spec: ModelSpec, part_paths: PartPaths | None) -> list[Path]:
    if part_paths is None:
        raw: Sequence[str | os.PathLike[str]] = default_part_paths(spec)
    elif callable(part_paths):
        raw = part_paths(spec)
    else:
        raw = part_paths
    paths = [Path(p) for p in raw]
    if len(paths) != spec.n_parts:
        raise ModelAssemblyError(f"model {spec.name!r}: got {len(paths)} part paths, expected {spec.n_parts}")
    return paths


def check_parts(spec: ModelSpec, paths: Sequence[Path]) -> None:
    """Cheap pre-check: every part exists and has its recorded size."""
    for i, path in zip(spec.indices, paths, strict=True):
        if not path.is_file():
            raise PartMissingError(spec, i, path, "is missing")
        size = path.stat().st_size
        expected = spec.part_sizes[i - 1]
        if size != expected:
            what = "is truncated" if size < expected else "is too large"
            raise PartSizeMismatchError(spec, i, path, f"{what}: {size:,} bytes, expected {expected:,}")


def _find_bad_part(spec: ModelSpec, paths: Sequence[Path]) -> None:
    """After a whole-file hash mismatch: hash each part to name the culprit (raises if found)."""
    if spec.part_sha256 is None:
        return
    for i, path in zip(spec.indices, paths, strict=True):
        actual = sha256_file(path)
        if actual != spec.part_sha256[i - 1]:
            raise PartChecksumMismatchError(spec, i, path, f"has SHA-256 {actual}, expected {spec.part_sha256[i - 1]}")


# --------------------------------------------------------------------------------------- helpers
def sha256_file(path: Path, chunk: int = CHUNK) -> str:
    h = hashlib.sha256()
    buf = bytearray(chunk)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


def marker_path(path: Path) -> Path:
    return path.with_name(path.name + MARKER_SUFFIX)


def _read_marker(path: Path) -> str | None:
    marker = marker_path(path)
    try:
        text = marker.read_text(encoding="ascii").strip()
        if marker.stat().st_mtime_ns < path.stat().st_mtime_ns:
            return None  # the file changed after it was verified
    except (OSError, UnicodeDecodeError):
        return None
    return text.split()[0].lower() if text else None


def _write_marker(path: Path, digest: str) -> None:
    marker = marker_path(path)
    tmp = marker.with_name(f".{marker.name}.{os.getpid()}.tmp")
    tmp.write_text(f"{digest}  {path.name}\n", encoding="ascii")
    os.replace(tmp, marker)


def _expected_digest(spec: ModelSpec) -> str:
    # With no recorded hash, the marker records the size-verified file's own hash.
    return spec.sha256 or ""


def is_verified(path: Path, spec: ModelSpec) -> bool:
    """Cheap check (no hashing): right size and a valid marker for the expected hash."""
    try:
        if path.stat().st_size != spec.size:
            return False
    except OSError:
        return False
    digest = _read_marker(path)
    if digest is None:
        return False
    return spec.sha256 is None or digest == spec.sha256


def verify(path: str | os.PathLike[str], spec: ModelSpec, *, write_marker: bool = True) -> str:
    """Fully verify ``path`` against ``spec`` (size, then SHA-256 by hashing the whole file).

    Returns the hex digest. Raises :class:`ChecksumMismatchError` on a mismatch and
    ``FileNotFoundError`` if the file does not exist. With ``write_marker`` a successful check
    (re)writes the sidecar marker so later starts skip hashing (ignored if it cannot be written).
    If the spec records no hash, only the size is checked and the actual digest is returned.
    """
    p = Path(path)
    size = p.stat().st_size
    if size != spec.size:
        raise ChecksumMismatchError(spec, p, f"size is {size:,} bytes, expected {spec.size:,}")
    digest = sha256_file(p)
    if spec.sha256 is not None and digest != spec.sha256:
        raise ChecksumMismatchError(spec, p, f"SHA-256 is {digest}, expected {spec.sha256}")
    if write_marker:
        with contextlib.suppress(OSError):
            _write_marker(p, digest)
    return digest


@contextlib.contextmanager
def _lock(cache_dir: Path, name: str) -> Iterator[None]:
    if fcntl is None:  # pragma: no cover
        yield
        return
    lock_path = cache_dir / f".{name}.lock"
    with open(lock_path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _prepare_cache_dir(cache_dir: Path, needed: int) -> None:
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CacheNotWritableError(cache_dir, f"cannot create it ({exc.strerror or exc})") from exc
    if not cache_dir.is_dir():
        raise CacheNotWritableError(cache_dir, "it is not a directory")
    if not os.access(cache_dir, os.W_OK | os.X_OK):
        raise CacheNotWritableError(cache_dir, "no write permission")
    free = shutil.disk_usage(cache_dir).free
    if free < needed:
        raise CacheNotWritableError(cache_dir, f"{free:,} bytes free, {needed:,} needed")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove_stale_temps(cache_dir: Path, filename: str) -> None:
    for stale in cache_dir.glob(f".{filename}.*.partial"):
        with contextlib.suppress(OSError):
            stale.unlink()


# -------------------------------------------------------------------------------------- assemble
@dataclass
class AssemblyReport:
    """What the last :func:`assemble` call did (for logs and ``model info``)."""

    path: Path
    action: str  # "reused" | "verified-existing" | "assembled"
    seconds: float


last_report: AssemblyReport | None = None


def assemble(
    spec: ModelSpec,
    cache_dir: str | os.PathLike[str],
    *,
    part_paths: PartPaths | None = None,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Return the path of the verified, assembled model file, building it if needed.

    Args:
        spec: which model.
        cache_dir: directory that holds the assembled file (created if missing).
        part_paths: where the parts are: a sequence of ``spec.n_parts`` paths in order, or a
            callable ``spec -> paths``. Default: the installed part packages
            (:func:`default_part_paths`).
        force: rebuild even if a verified file is present.
        progress: called as ``progress(bytes_done, bytes_total)`` while copying.

    Raises:
        PartNotInstalledError, PartMissingError, PartSizeMismatchError,
        PartChecksumMismatchError, ChecksumMismatchError, CacheNotWritableError
        (all :class:`ModelAssemblyError`).
    """
    global last_report
    t0 = time.perf_counter()
    cache = Path(cache_dir).expanduser()
    target = cache / spec.filename

    if not force and is_verified(target, spec):
        last_report = AssemblyReport(target, "reused", time.perf_counter() - t0)
        return target

    _prepare_cache_dir(cache, 0)
    with _lock(cache, spec.filename):
        # Another process may have finished while we waited for the lock.
        if not force and is_verified(target, spec):
            last_report = AssemblyReport(target, "reused", time.perf_counter() - t0)
            return target
        if not force and target.is_file() and target.stat().st_size == spec.size:
            try:
                verify(target, spec)
            except ChecksumMismatchError:
                pass  # rebuild below
            else:
                last_report = AssemblyReport(target, "verified-existing", time.perf_counter() - t0)
                return target

        paths = _resolve_part_paths(spec, part_paths)
        check_parts(spec, paths)
        _remove_stale_temps(cache, spec.filename)
        _prepare_cache_dir(cache, spec.size)
        _assemble_into(spec, paths, target, progress)

    last_report = AssemblyReport(target, "assembled", time.perf_counter() - t0)
    return target


def _assemble_into(
    spec: ModelSpec, paths: Sequence[Path], target: Path, progress: Callable[[int, int], None] | None
) -> None:
    cache = target.parent
    try:
        fd, tmp_name = tempfile.mkstemp(dir=cache, prefix=f".{spec.filename}.", suffix=".partial")
    except OSError as exc:
        raise CacheNotWritableError(cache, f"cannot create a file ({exc.strerror or exc})") from exc
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes it private; the model is a shared read-only file
        h = hashlib.sha256()
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        done = 0
        with os.fdopen(fd, "wb", buffering=0) as out:
            for i, path in zip(spec.indices, paths, strict=True):
                part_bytes = 0
                try:
                    src = open(path, "rb", buffering=0)  # noqa: SIM115 - closed below
                except FileNotFoundError as exc:
                    raise PartMissingError(spec, i, path, "disappeared during assembly") from exc
                except OSError as exc:
                    raise PartFileError(spec, i, path, f"cannot be opened ({exc})") from exc
                with src:
                    while True:
                        try:
                            n = src.readinto(buf)
                        except OSError as exc:
                            raise PartFileError(spec, i, path, f"cannot be read ({exc})") from exc
                        if not n:
                            break
                        chunk = view[:n]
                        h.update(chunk)
                        out.write(chunk)
                        part_bytes += n
                        done += n
                        if progress is not None:
                            progress(done, spec.size)
                if part_bytes != spec.part_sizes[i - 1]:
                    raise PartSizeMismatchError(
                        spec, i, path, f"yielded {part_bytes:,} bytes, expected {spec.part_sizes[i - 1]:,}"
                    )
            out.flush()
            os.fsync(out.fileno())
        size = tmp.stat().st_size
        if size != spec.size:
            raise ChecksumMismatchError(spec, target, f"assembled {size:,} bytes, expected {spec.size:,}")
        digest = h.hexdigest()
        if spec.sha256 is not None and digest != spec.sha256:
            _find_bad_part(spec, paths)
            raise ChecksumMismatchError(spec, target, f"assembled SHA-256 {digest}, expected {spec.sha256}")
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise CacheNotWritableError(cache, f"write failed ({exc.strerror or exc})") from exc
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _write_marker(target, digest)
