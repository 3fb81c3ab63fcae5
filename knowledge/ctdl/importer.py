"""The importer: the steps of an import in order."""

from __future__ import annotations

from knowledge.ctdl.credentials import _Credentials
from knowledge.ctdl.pathways import _Pathways
from knowledge.ctdl.providers import _Providers
from knowledge.ctdl.recognition import _Recognition
from knowledge.ctdl.report import CtdlImport, CtdlImportError, NoteKind
from knowledge.schema import (
    Credential,
)


class _Importer(_Pathways, _Recognition, _Credentials, _Providers):
    """One import run over a list of files."""

    # -------------------------------------------------------- run

    def run(self) -> CtdlImport:
        self.load()
        self.assign_roles()
        self.build_providers()
        self.build_credentials()
        credentials = self.finish_credentials()
        pathways = self.build_pathways()
        valid = {c.id for c in credentials}
        credentials = [c for c in credentials if c.id in self.drafts and c.id in valid]
        credentials = [self._with_prereqs(c) for c in credentials]
        used_providers = {c.awarding_body for c in credentials} | {p.awarding_body for p in pathways}
        used_providers |= {r.recognised_by for p in pathways for r in p.credit_recognition}
        providers = [p for pid, p in self.providers.items()
                     if pid in used_providers or pid not in self.placeholder_providers.values()]
        if not providers and not credentials and not pathways:
            types = sorted({n.type_label for n in self.nodes.values()})
            raise CtdlImportError("nothing importable: no organisation, credential, learning opportunity or pathway "
                                  f"found (types present: {', '.join(types) or 'none'})",
                                  ", ".join(str(f) for f in self.files))
        for path in self.files:
            file = str(path)
            if not any(n.file == file and n.id in self.cred_of_node | self.pathway_ids | self.provider_of_node
                       for n in self.nodes.values()):
                self.note(NoteKind.unmapped, "nothing importable in this file", file=file, pointer="")
        sources = {cid: d.node.id for cid, d in self.drafts.items()}
        sources |= {pid: node_id for node_id, pid in self.provider_of_node.items()}
        sources |= {pid: node_id for node_id, pid in self.pathway_ids.items()}
        kept = {e.id for e in [*providers, *credentials, *pathways]}
        return CtdlImport(providers=providers, credentials=credentials, pathways=pathways, report=self.notes,
                          sources={k: v for k, v in sources.items() if k in kept})

    def _with_prereqs(self, credential: Credential) -> Credential:
        prereqs = self.drafts[credential.id].data.get("prerequisites", [])
        if list(credential.prerequisites) == prereqs:
            return credential
        return Credential.model_validate({**credential.model_dump(), "prerequisites": prereqs})
