"""Import Credential Engine CTDL JSON-LD into catalogue entities (providers, credentials, pathways).

Public face::

    import_ctdl(paths) -> CtdlImport            # entities + a report of every gap; raises CtdlImportError
    write_catalogue(result, out_dir) -> [Path]  # providers.yaml, credentials/<id>.yaml, pathways/<id>.yaml

CTDL describes credentials for discovery. The catalogue also needs the EU Annex I elements (ECTS, EQF
level, assessment type, form of participation, quality assurance) and a rubric, which CTDL mostly lacks.
Where a value cannot be taken from the source the importer sets a clearly marked placeholder and says so
in the report; every CTDL property it does not map is reported as well. Nothing is dropped silently.

What maps to what
=================================================  ==============================================
CTDL                                               catalogue
=================================================  ==============================================
Organization, CredentialOrganization, ...          ``Provider`` (kind from agentType/name, country
                                                   from address)
credential classes (Certification, Badge,          ``Credential``
BachelorDegree, ...), LearningOpportunityProfile,
LearningProgram, Course, AssessmentProfile
CredentialComponent, CourseComponent,              ``Credential`` (one per learning unit: a component
AssessmentComponent; BasicComponent with an award  whose ``sourceItem``/``proxyFor``/``sourceData`` is
                                                   in the import becomes that resource's credential)
ctid, codedNotation, alternateName, identifier     ``aliases`` of the credential / pathway
creditValue (+ unitText, creditUnitType names)     ``ects`` (:mod:`.units`; ECTS stays ECTS)
estimatedDuration                                  ``duration`` (:mod:`.durations`)
audienceLevelType / audienceLevel / educationLevel ``eqf_level`` (:mod:`.levels`)
ceterms:Pathway                                    ``Pathway``; destination component -> ``leads_to``,
                                                   and ``destination`` when it stands for a credential
ComponentCondition N of M targets                  ``n_of_m`` (1<N<M), ``any_of`` (N=1, M>=2),
                                                   ``all_of`` (N=M)
ComponentCondition / ConditionProfile with         ``min_credits`` (credits converted to ECTS)
creditValue
ceterms:prerequisite / precedes between            ``prerequisite`` rules
components; conditions of an earnable component
requires/entryCondition -> targetCredential,       ``Credential.prerequisites`` (when the target is
targetLearningOpportunity, targetAssessment        in the import)
=================================================  ==============================================

Nested conditions are flattened where that is sound (everything under an all-of); a choice over
sub-groups cannot be expressed by the flat rule set and is relaxed to the strongest single
``n_of_m`` rule every valid completion satisfies - reported as an approximation.

Package layout: ``reading`` (files, documents, nodes) -> ``jsonld`` (pyld compaction against the pinned
context in ``contexts/``) -> ``graph`` (merge by @id, roles, pathway membership) -> ``providers``,
``credentials`` (+ ``credits``: ECTS/EQF, ``elements``: the other Annex I and offer elements), ``pathways``
(+ ``expressions``, ``rules``, ``recognition``) -> ``importer`` (the steps in order) ->
``writing``; value readers in ``values``, ``units``, ``durations``, ``levels``, ``places``; the result types
in ``report``; CTDL class and property sets in ``vocab``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from knowledge.ctdl.importer import _Importer
from knowledge.ctdl.report import CtdlImport, CtdlImportError, ImportNote, NoteKind
from knowledge.ctdl.writing import write_catalogue

__all__ = ["CtdlImport", "CtdlImportError", "ImportNote", "NoteKind", "import_ctdl", "write_catalogue"]


def import_ctdl(paths: Iterable[Path | str]) -> CtdlImport:
    """Convert CTDL JSON-LD files into catalogue providers, credentials and pathways.

    All files are read as one graph, so references between them resolve (an organisation in one file,
    its credentials in another). The returned entities validate against :mod:`knowledge.schema`; the
    ``report`` lists every CTDL property not mapped, every placeholder and every approximation.

    Raises :class:`CtdlImportError` when a file cannot be read, is not JSON, is JSON but not CTDL, or
    when nothing at all can be imported.
    """
    return _Importer([Path(p) for p in paths]).run()

