"""CTDL classes and properties the importer knows, and how a node is classified."""

from __future__ import annotations

from collections.abc import Iterable

# ---------------------------------------------------------------- vocabularies

_ORG_TYPES = {"Organization", "CredentialOrganization", "QACredentialOrganization", "Agent"}
_LEARNING_TYPES = {
    "LearningOpportunityProfile", "LearningOpportunity", "LearningProgram", "Course",
    "AssessmentProfile", "Assessment",
}
_CREDENTIAL_SUFFIXES = (
    "Degree", "Certificate", "Certification", "Diploma", "Badge", "Doctorate", "License", "Credential",
)
_CREDENTIAL_TYPES = {"GeneralEducationDevelopment", "MicroCredential", "ApprenticeshipCertificate"}
_EARNABLE_COMPONENTS = {"CredentialComponent", "CourseComponent", "AssessmentComponent"}
_GROUP_COMPONENTS = {"BasicComponent", "SelectionComponent", "MultiComponent", "Basic", "PathwayComponent"}
_OTHER_COMPONENTS = {
    "JobComponent", "WorkExperienceComponent", "CompetencyComponent", "CocurricularComponent",
    "ExtracurricularComponent",
}
_KNOWN_CTDL = (
    _ORG_TYPES | _LEARNING_TYPES | _CREDENTIAL_TYPES | _EARNABLE_COMPONENTS | _GROUP_COMPONENTS
    | _OTHER_COMPONENTS | {"Pathway", "PathwaySet", "ComponentCondition", "ConditionProfile", "ProgressionModel",
                           "ProgressionLevel", "CompetencyFramework", "Competency", "TransferValueProfile"}
)

LEVEL_PROPERTIES = ("audienceLevelType", "audienceLevel", "educationLevel", "educationalLevel")

_CURRENCIES = {
    "us dollar": "USD", "us dollars": "USD", "u.s. dollar": "USD", "dollar": "USD", "dollars": "USD",
    "euro": "EUR", "euros": "EUR", "british pound": "GBP", "pound sterling": "GBP", "pound": "GBP",
    "canadian dollar": "CAD", "australian dollar": "AUD", "swiss franc": "CHF",
}

# properties that are pure structure (ids, inverse links) and carry nothing to map
_STRUCTURAL = {"@id", "@type", "@context", "id", "type", "isChildOf", "isPartOf", "isDestinationComponentFor",
               "isRootOf", "isDestinationComponentOf"}
_UNIT_HANDLED = _STRUCTURAL | {
    "ctid", "name", "description", "subjectWebpage", "availableOnlineAt", "inLanguage", "ownedBy",
    "offeredBy", "audienceLevelType", "audienceLevel", "educationLevel", "educationalLevel",
    "creditValue", "creditUnitValue", "creditUnitType",
    "creditHourValue", "creditHourType", "estimatedCost", "estimatedDuration", "deliveryType",
    "learningDeliveryType", "assessmentDeliveryType", "assessmentMethodType", "teaches", "assesses",
    "requires", "entryCondition", "recommends", "isRequiredFor", "isRecommendedFor", "isAdvancedStandingFor",
    "recognizedBy", "accreditedBy", "approvedBy", "regulatedBy", "keyword",
    "subject", "credentialType", "sourceData", "sourceItem", "proxyFor", "hasCondition", "hasChild",
    "isParentOf", "prerequisite", "precedes", "preceeds", "requiredNumber", "codedNotation", "alternateName",
    "identifier",
}
_GROUP_HANDLED = _STRUCTURAL | {"ctid", "name", "hasCondition", "hasChild", "isParentOf", "requiredNumber",
                                "prerequisite", "precedes", "preceeds"}
_PATHWAY_HANDLED = _STRUCTURAL | {"ctid", "codedNotation", "alternateName", "identifier",
                                  "name", "description", "ownedBy", "offeredBy", "hasDestinationComponent",
                                  "hasRootComponent", "hasRoot", "hasPart", "hasChild"}
_ORG_HANDLED = _STRUCTURAL | {"ctid", "alternateName", "owns", "offers",
                              "name", "description", "subjectWebpage", "address", "agentType",
                              "accreditedBy", "recognizedBy", "approvedBy", "regulatedBy"}
_CONDITION_HANDLED = _STRUCTURAL | {"ctid", "name", "description", "targetComponent", "requiredNumber",
                                    "hasCondition", "logicalOperand", "leftOperand", "operand", "rightOperand",
                                    "hasRuleSet", "creditValue"}
_MULTI_VALUED = {"@type", "type", "hasCondition", "hasChild", "isChildOf", "isPartOf", "hasPart",
                 "targetComponent", "prerequisite", "precedes", "preceeds", "ownedBy", "offeredBy", "keyword",
                 "teaches", "assesses", "requires", "entryCondition", "isParentOf", "subject", "accreditedBy",
                 "recognizedBy", "approvedBy", "regulatedBy", "inLanguage", "address"}
_QA_PROPERTIES = (("accreditedBy", "Accredited by"), ("recognizedBy", "Recognised by"),
                  ("approvedBy", "Approved by"), ("regulatedBy", "Regulated by"))
_TARGET_PROPERTIES = ("targetCredential", "targetLearningOpportunity", "targetAssessment")


def _is_credential_type(local_type: str) -> bool:
    if local_type.endswith("Organization"):
        return False
    return local_type in _CREDENTIAL_TYPES or local_type.endswith(_CREDENTIAL_SUFFIXES)


def _classify(types: Iterable[str]) -> str:
    types = list(types)
    for kind, test in (
        ("org", lambda t: t in _ORG_TYPES),
        ("pathway", lambda t: t == "Pathway"),
        ("component", lambda t: t in _EARNABLE_COMPONENTS),
        ("group", lambda t: t in _GROUP_COMPONENTS),
        ("other-component", lambda t: t in _OTHER_COMPONENTS),
        ("resource", lambda t: t in _LEARNING_TYPES or _is_credential_type(t)),
        ("condition", lambda t: t == "ComponentCondition"),
        ("transfer", lambda t: t == "TransferValueProfile"),
        ("vocabulary", lambda t: t in ("Concept", "ConceptScheme")),
    ):
        if any(test(t) for t in types):
            return kind
    return "unknown"
