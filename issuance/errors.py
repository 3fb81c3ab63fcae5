"""Issuance's typed errors: one root, :class:`IssuanceError` (a ``ValueError``, as it always was), that every
issuance exception derives from. Messages are plain words for the person at the other end.

- issuing and revoking (:mod:`issuance.service`): :class:`NotIssuable`, :class:`UnknownSubmission`,
  :class:`CredentialNotFound`, :class:`NotYourCredential`, :class:`AlreadyRevoked`, :class:`StatusListNotFound`,
  :class:`IssuerNotFound`
- signing and verifying (:mod:`issuance.dataintegrity`): :class:`DataIntegrityError`,
  :class:`CanonicalizationError`, :class:`UndefinedTermError`, :class:`KeyResolutionError`
- keys, trust, status lists, badges: :class:`KeyFileError`, :class:`MultikeyError`, :class:`TrustListInvalid`,
  :class:`StatusListError`, :class:`BakingError`
- also rooted here, defined beside what raises them: ``issuance.loader.UnknownContextError`` (a pyld
  ``JsonLdError`` too) and ``issuance.store.AuditLogImmutable`` (beside its table's append-only guard)
"""

from __future__ import annotations


class IssuanceError(ValueError):
    """The credential cannot be issued as asked (the message says why); the root of every issuance error."""


# ---- issuing and revoking


class NotIssuable(IssuanceError):
    """The submission may not (or cannot) be issued; ``status`` is its status, ``None`` when it does not exist."""

    def __init__(self, submission_id: str, status: str | None, reason: str):
        super().__init__(f"submission {submission_id!r} cannot be issued: {reason}")
        self.submission_id, self.status, self.reason = submission_id, status, reason


class UnknownSubmission(NotIssuable, LookupError):
    def __init__(self, submission_id: str):
        super().__init__(submission_id, None, "there is no such submission")


class CredentialNotFound(IssuanceError, LookupError):
    def __init__(self, credential_id: str):
        super().__init__(f"no issued credential {credential_id!r}")
        self.credential_id = credential_id


class NotYourCredential(IssuanceError, PermissionError):
    """A learner asked to change a credential that was not issued to them."""

    def __init__(self, credential_id: str):
        super().__init__(f"credential {credential_id!r} was not issued to you, so you cannot change its page")
        self.credential_id = credential_id


class AlreadyRevoked(IssuanceError):
    """The credential was revoked before (the message says when and why)."""


class StatusListNotFound(IssuanceError, LookupError):
    """No status list with that number has been published."""


class IssuerNotFound(IssuanceError, LookupError):
    """No awarding body with that id in the catalogue (so no issuer of ours)."""


# ---- signing and verifying (Data Integrity)


class DataIntegrityError(IssuanceError):
    """Base class of the Data Integrity errors: the message is a plain-words reason."""


class CanonicalizationError(DataIntegrityError):
    """The document could not be turned into canonical N-Quads."""


class UndefinedTermError(CanonicalizationError):
    """The document has properties or types its ``@context`` does not define (they would not be signed)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            "not every term is defined by the document's @context, so the signature would not cover it: "
            + "; ".join(problems)
        )


class KeyResolutionError(DataIntegrityError):
    """A verification method could not be resolved to an Ed25519 public key."""


# ---- keys, trust, status lists, badges


class KeyFileError(IssuanceError):
    """The key file is missing, unsafe or unreadable (the message says which and where)."""


class MultikeyError(IssuanceError):
    """A multibase / multikey value that cannot be decoded as an Ed25519 key."""


class TrustListInvalid(IssuanceError):
    """The trusted-issuers file is missing, unreadable or malformed (the message says where)."""


class StatusListError(IssuanceError):
    """A malformed status list, list credential or entry (the message says what is wrong)."""


class BakingError(IssuanceError):
    """An image has no (or a malformed) embedded credential; the message says which."""
