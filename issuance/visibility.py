"""Whether a credential's public page is shown: the learner's choice, private by default.

Private by default because the page shows, to anyone holding its link, what the learner achieved (and their
name, where the issuer's configuration puts it in the credential); putting it on show is the learner's decision
(data protection by default, GDPR Art. 25). The learner makes it public to share it (link previews, LinkedIn) and
private again at any time. A private page and its badge images answer "this credential page is private"; the
credential's JSON and its verification stay available to verifiers either way (the holder hands those over).

Only the learner the credential was issued to may change it (:class:`issuance.errors.NotYourCredential`
otherwise); each change is an entry in the issuance audit log. "Forget me" makes the learner's pages private.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuance.errors import CredentialNotFound, NotYourCredential
from issuance.store import CredentialRow, VisibilityRow, append_audit


def public_ids(session: Session, ids: Iterable[str]) -> set[str]:
    """Which of these credential UUIDs have a public page."""
    ids = list(ids)
    if not ids:
        return set()
    return set(session.scalars(select(VisibilityRow.credential_id)
                               .where(VisibilityRow.credential_id.in_(ids), VisibilityRow.public.is_(True))))


def set_public(session: Session, uuid: str, *, learner_id: str, public: bool, at: datetime) -> bool:
    """Make the page of credential ``uuid`` public or private for its learner; True when it changed.
    Raises :class:`CredentialNotFound` or :class:`NotYourCredential`."""
    row = session.get(CredentialRow, uuid)
    if row is None or row.document is None:
        raise CredentialNotFound(uuid)
    if not learner_id or row.learner_id != learner_id:
        raise NotYourCredential(f"urn:uuid:{uuid}")
    current = session.get(VisibilityRow, uuid)
    if current is not None and current.public == public:
        return False
    if current is None:
        if not public:
            return False
        session.add(VisibilityRow(credential_id=uuid, public=True, changed_at=at))
    else:
        current.public, current.changed_at = public, at
    append_audit(session, "page_made_public" if public else "page_made_private", learner_id[:200],
                 credential_id=uuid, submission_id=row.submission_id, at=at)
    return True


def make_private(session: Session, ids: Iterable[str], at: datetime) -> None:
    """Every one of these credentials' pages private (for "Forget me")."""
    for row in session.scalars(select(VisibilityRow).where(VisibilityRow.credential_id.in_(list(ids)),
                                                             VisibilityRow.public.is_(True))):
        row.public, row.changed_at = False, at
