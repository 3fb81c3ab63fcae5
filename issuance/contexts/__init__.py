"""Pinned JSON-LD context documents served by :mod:`issuance.loader` (see ``PROVENANCE.md``)."""
