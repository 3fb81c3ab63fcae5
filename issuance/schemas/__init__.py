"""The official 1EdTech OB 3.0 JSON Schema (unchanged copy; see ../contexts/PROVENANCE.md)."""
