"""Where a credential to verify is read from (``issuance.sources``): the guard that keeps verification from
fetching anything but this app's own URLs, and the one-line errors. No network: refused URLs are refused
before any request."""

from __future__ import annotations

import pytest

from issuance.sources import CredentialSourceError, is_loopback, is_own_url, read_credential

PUBLIC = "https://credentials.example.edu"


@pytest.mark.parametrize(("target", "allowed"), [
    ("https://credentials.example.edu", True),
    ("https://credentials.example.edu/credentials/abc", True),
    ("http://127.0.0.1:7860/credentials/abc", True),
    ("http://[::1]:7860/credentials/abc", True),
    ("http://localhost/credentials/abc", True),
    ("https://credentials.example.edu.evil.org/credentials/abc", False),  # a prefix of the host is not the host
    ("https://169.254.169.254/latest/meta-data", False),  # cloud metadata: not loopback, not ours
    ("http://10.0.0.5/credentials/abc", False),
    ("file:///etc/passwd", False),
    ("ftp://127.0.0.1/credentials/abc", False),
])
def test_only_own_and_loopback_urls_may_be_fetched(target, allowed):
    assert is_own_url(target, PUBLIC) is allowed


def test_loopback_names_are_not_resolved():
    assert is_loopback("127.0.0.2") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("localhost.example.org") and not is_loopback("example.org")


def test_refused_url_and_missing_file_are_one_line_errors(tmp_path):
    with pytest.raises(CredentialSourceError, match=r"^refusing to fetch http://10\.0\.0\.5/x: only this app's own"):
        read_credential("http://10.0.0.5/x", service=None, public_url=PUBLIC)  # type: ignore[arg-type]
    missing = tmp_path / "nothing.json"
    with pytest.raises(CredentialSourceError, match=f"^no such file: {missing}$"):
        read_credential(str(missing), service=None, public_url=PUBLIC)  # type: ignore[arg-type]
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not a png")
    with pytest.raises(CredentialSourceError) as info:
        read_credential(str(junk), service=None, public_url=PUBLIC)  # type: ignore[arg-type]
    assert str(info.value).startswith(f"{junk}: ") and "\n" not in str(info.value)
