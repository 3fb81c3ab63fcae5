"""Unlinking a learner from the credentials issued to them ("Forget me").

Issued credential records stay: the signed credential is the record of an award that was made, its status-list
slot must stay reserved, and it must stay revocable (a credential nobody can revoke would be worse than one
that names its holder). What changes: the record's ``learner_id`` becomes a random ``erased-…`` id, so the
learner key (or Telegram account) no longer finds it and nothing is sent to the learner any more. The signed
document is not rewritten (that would break its signature); it carries the learner's name only where the
issuer's configuration puts it there. The issuance audit log is append-only; an ``learner_erased`` entry
records the change. Their credential pages become private (:mod:`issuance.visibility`).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update

from issuance.store import CredentialRow, append_audit, utcnow
from issuance.visibility import make_private

if TYPE_CHECKING:
    from issuance.service import IssuanceService


def credentials_of(service: IssuanceService, learner_id: str) -> int:
    """How many credential records (issued or reserved) are linked to ``learner_id``."""
    with service._sessions() as session:
        return int(session.scalar(select(func.count()).select_from(CredentialRow)
                                  .where(CredentialRow.learner_id == learner_id)) or 0)


def unlink_learner(service: IssuanceService, learner_id: str, *, actor: str = "learner") -> int:
    """Re-point the learner's credential records to a random ``erased-…`` id; returns how many."""
    pseudonym = "erased-" + secrets.token_hex(10)
    with service._sessions.begin() as session:
        ids = list(session.scalars(select(CredentialRow.id).where(CredentialRow.learner_id == learner_id)))
        if not ids:
            return 0
        session.execute(update(CredentialRow).where(CredentialRow.id.in_(ids)).values(learner_id=pseudonym))
        make_private(session, ids, utcnow())  # nobody can make them private any more
        for cid in ids:
            append_audit(session, "learner_erased", actor, credential_id=cid, details={"learner": pseudonym})
    return len(ids)
