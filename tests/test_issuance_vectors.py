"""eddsa-rdfc-2022 against the official test vectors, byte for byte, and the pinned offline contexts."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pytest

from issuance.dataintegrity import (
    CanonicalizationError,
    UndefinedTermError,
    canonicalize,
    create_proof,
    decode_public_multikey,
    decode_secret_multikey,
    encode_public_multikey,
    encode_secret_multikey,
    hash_data,
    multibase_base58btc_decode,
    resolve_did_key,
    sign,
    static_resolver,
    verify_proof,
)
from issuance.keys import controller_document
from issuance.loader import (
    DATA_INTEGRITY_V2,
    MULTIKEY_V1,
    OB_V3P0_3_0_3,
    PINNED_CONTEXTS,
    VC_V2,
    UnknownContextError,
    context_document,
    default_loader,
)
from issuance.multikey import MultikeyError
from tests.paths import shared_path

RDFC = ("vc", "vc-di-eddsa", "TestVectors", "eddsa-rdfc-2022")
OB3 = ("vc", "ob3-impl-guide")


def _shared(*parts: str) -> Path:
    return shared_path("external", *parts)


def _text(*parts: str) -> str:
    return _shared(*parts).read_text(encoding="utf-8")


def _json(*parts: str) -> dict:
    return json.loads(_text(*parts))


def _without_proof(document: dict) -> dict:
    return {k: v for k, v in document.items() if k != "proof"}


# ---------------------------------------------------------------- vc-di-eddsa eddsa-rdfc-2022


@pytest.fixture(scope="module")
def rdfc() -> dict:
    root = RDFC
    return {
        "keys": _json("vc", "vc-di-eddsa", "TestVectors", "keyPair.json"),
        "unsigned": _json("vc", "vc-di-eddsa", "TestVectors", "unsigned.json"),
        "config": _json(*root, "proofConfigDataInt.json"),
        "canon_doc": _text(*root, "canonDocDataInt.txt"),
        "canon_proof": _text(*root, "proofCanonDataInt.txt"),
        "doc_hash": _text(*root, "docHashDataInt.txt").strip(),
        "proof_hash": _text(*root, "proofHashDataInt.txt").strip(),
        "combined": _text(*root, "combinedHashDataInt.txt").strip(),
        "sig_hex": _text(*root, "sigHexDataInt.txt").strip(),
        "proof_value": _text(*root, "sigBTC58DataInt.txt").strip(),
        "signed": _json(*root, "signedDataInt.json"),
    }


def test_rdfc_vector_canonical_forms_and_hashes(rdfc):
    data = hash_data(rdfc["unsigned"], rdfc["config"])
    assert data.canonical_document == rdfc["canon_doc"]
    assert data.canonical_proof_config == rdfc["canon_proof"]
    assert data.document_hash.hex() == rdfc["doc_hash"]
    assert data.proof_hash.hex() == rdfc["proof_hash"]
    assert data.hash_data.hex() == rdfc["combined"]


def test_rdfc_vector_keys_round_trip(rdfc):
    private = decode_secret_multikey(rdfc["keys"]["privateKeyMultibase"])
    assert encode_public_multikey(private.public_key()) == rdfc["keys"]["publicKeyMultibase"]
    assert encode_secret_multikey(private) == rdfc["keys"]["privateKeyMultibase"]
    public = decode_public_multikey(rdfc["keys"]["publicKeyMultibase"])
    assert encode_public_multikey(public) == rdfc["keys"]["publicKeyMultibase"]


def test_rdfc_vector_proof_value_is_reproduced(rdfc):
    private = decode_secret_multikey(rdfc["keys"]["privateKeyMultibase"])
    config = rdfc["config"]
    proof = create_proof(rdfc["unsigned"], private, config["verificationMethod"], created=config["created"])
    assert proof["proofValue"] == rdfc["proof_value"]
    assert multibase_base58btc_decode(proof["proofValue"]).hex() == rdfc["sig_hex"]
    expected = {k: v for k, v in config.items() if k != "@context"} | {"proofValue": rdfc["proof_value"]}
    assert proof == expected
    assert rdfc["signed"] == {**rdfc["unsigned"], "proof": proof}


def test_rdfc_vector_signed_credential_verifies(rdfc):
    result = verify_proof(rdfc["signed"], resolve_did_key)
    assert result.ok, result.reason
    assert result.controllers == ["did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"]


# ---------------------------------------------------------------- OB 3.0 implementation guide


@pytest.fixture(scope="module")
def ob3() -> dict:
    expected = _json(*OB3, "keypair-and-expected.json")
    signed = _json(*OB3, "signed-openbadgecredential-eddsa-rdfc-2022.json")
    return {
        "expected": expected,
        "signed": signed,
        "canon_doc": _text(*OB3, "obv3p0-document-canon.txt"),
        "canon_proof": _text(*OB3, "obv3p0-proof-canon.txt"),
        "resolver": static_resolver({signed["proof"]["verificationMethod"]: expected["publicKeyMultibase"]}),
    }


def test_ob3_vector_canonical_forms_and_hashes(ob3):
    data = hash_data(ob3["signed"], ob3["signed"]["proof"])
    assert data.canonical_document == ob3["canon_doc"]
    assert data.canonical_proof_config == ob3["canon_proof"]
    assert data.document_hash.hex() == ob3["expected"]["documentHashHex"]
    assert data.proof_hash.hex() == ob3["expected"]["proofHashHex"]


def test_ob3_vector_keys(ob3):
    expected = ob3["expected"]
    private = decode_secret_multikey(expected["secretKeyMultibase"])  # the 64-byte seed+public form
    public_hex = private.public_key().public_bytes_raw().hex()
    assert public_hex == expected["publicKeyHex"]
    assert expected["privateKeyHex(seed+pub)"].startswith(private.private_bytes_raw().hex())
    assert encode_public_multikey(private.public_key()) == expected["publicKeyMultibase"]


def test_ob3_vector_proof_value_is_reproduced(ob3):
    signed = ob3["signed"]
    private = decode_secret_multikey(ob3["expected"]["secretKeyMultibase"])
    proof = create_proof(
        _without_proof(signed), private, signed["proof"]["verificationMethod"], created=signed["proof"]["created"]
    )
    assert proof["proofValue"] == signed["proof"]["proofValue"]
    assert multibase_base58btc_decode(proof["proofValue"]).hex() == ob3["expected"]["signatureHex"]
    assert proof == signed["proof"]


def test_ob3_vector_signed_credential_verifies(ob3):
    assert verify_proof(ob3["signed"], ob3["resolver"]).ok
    # the same key published in a controller document for the issuer resolves too
    from issuance.dataintegrity import ControllerDocumentResolver

    issuer = ob3["signed"]["issuer"]["id"]
    resolver = ControllerDocumentResolver([controller_document(issuer, ob3["expected"]["publicKeyMultibase"])])
    result = verify_proof(ob3["signed"], resolver)
    assert result.ok, result.reason
    assert result.controllers == [issuer]


# ---------------------------------------------------------------- tampering


def _set(document: dict, path: tuple, value) -> dict:
    changed = copy.deepcopy(document)
    target = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return changed


SIGNATURE_MISMATCH = "signature does not match"


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        (("name",), "Teamwork Badge (forged)", SIGNATURE_MISMATCH),
        (("credentialSubject", "id"), "did:example:someone-else", SIGNATURE_MISMATCH),
        (("credentialSubject", "achievement", "criteria", "narrative"), "Anyone may claim it.", SIGNATURE_MISMATCH),
        (("validFrom",), "2009-01-01T00:00:00Z", SIGNATURE_MISMATCH),
        (("proof", "created"), "2010-01-02T19:23:24Z", SIGNATURE_MISMATCH),
        (
            ("proof", "proofValue"),
            "z5x9aCBYovW3CQCbKdNyhEm7ffYSw1YpEdPywQJoNbzDD2gkzQDKJ1sYKJaWvqZtkMtSbz35HcbgXVEDYHxCzgkCs",
            SIGNATURE_MISMATCH,
        ),
        (("proof", "proofValue"), "not-multibase", "not multibase base58btc"),
        (("proof", "proofPurpose"), "authentication", "proof purpose is 'authentication'"),
        (("proof", "cryptosuite"), "eddsa-jcs-2022", "unsupported cryptosuite 'eddsa-jcs-2022'"),
        (("proof", "type"), "Ed25519Signature2020", "unsupported proof type"),
        (("proof", "verificationMethod"), "https://example.edu/issuers/565049#other", "could not be resolved"),
    ],
)
def test_ob3_vector_tampering_fails_with_reason(ob3, path, value, reason):
    result = verify_proof(_set(ob3["signed"], path, value), ob3["resolver"])
    assert not result.ok
    assert reason in result.reason


def test_rdfc_vector_tampering_fails(rdfc):
    for path, value in [(("credentialSubject", "alumniOf"), "Another School"), (("issuer",), "https://evil.example")]:
        result = verify_proof(_set(rdfc["signed"], path, value), resolve_did_key)
        assert not result.ok
        assert SIGNATURE_MISMATCH in result.reason


def test_signed_with_another_key_fails(rdfc):
    other = decode_public_multikey("z6MktgKTsu1QhX6QPbyqG6geXdw6FQCZBPq7uQpieWbiQiG7")
    method = rdfc["signed"]["proof"]["verificationMethod"]
    result = verify_proof(rdfc["signed"], static_resolver({method: other}))
    assert not result.ok
    assert SIGNATURE_MISMATCH in result.reason


def test_unsigned_document_fails(rdfc):
    result = verify_proof(rdfc["unsigned"], resolve_did_key)
    assert not result.ok
    assert "not signed" in result.reason


# ---------------------------------------------------------------- undefined terms, offline loader


def test_undefined_terms_are_refused_not_silently_dropped(rdfc):
    document = copy.deepcopy(rdfc["unsigned"])
    document["@context"] = [VC_V2]  # without the examples context: alumniOf / AlumniCredential are undefined
    with pytest.raises(UndefinedTermError) as caught:
        canonicalize(document)
    message = str(caught.value)
    assert "'alumniOf' is not defined" in message
    assert "'AlumniCredential' is not defined" in message
    # the lenient mode shows the hazard: the property is simply gone from the signed form
    assert "alumniOf" not in canonicalize(document, strict=False)


def test_an_undefined_property_added_after_signing_fails_verification(ob3):
    forged = copy.deepcopy(ob3["signed"])
    forged["credentialSubject"]["honours"] = "summa cum laude"
    result = verify_proof(forged, ob3["resolver"])
    assert not result.ok
    assert "'honours' is not defined" in result.reason


def test_unknown_context_url_is_refused_without_fetching(rdfc):
    document = _set(rdfc["unsigned"], ("@context",), [VC_V2, "https://contexts.example/evil/v1"])
    with pytest.raises(CanonicalizationError) as caught:
        canonicalize(document)
    assert "https://contexts.example/evil/v1" in str(caught.value)
    assert "not available offline" in str(caught.value)
    with pytest.raises(UnknownContextError):
        default_loader()("https://contexts.example/evil/v1", {})
    signed = _set(rdfc["signed"], ("@context",), [VC_V2, "https://contexts.example/evil/v1"])
    result = verify_proof(signed, resolve_did_key)
    assert not result.ok
    assert "https://contexts.example/evil/v1" in result.reason


def test_bad_multikeys_are_rejected():
    with pytest.raises(MultikeyError):
        decode_public_multikey("z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq")  # a secret key
    with pytest.raises(MultikeyError):
        decode_secret_multikey("z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2")  # a public key
    with pytest.raises(MultikeyError):
        decode_public_multikey("u6MkrJVnaZk")


# ---------------------------------------------------------------- pinned contexts


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _pinned(url: str) -> bytes:
    from importlib import resources

    return resources.files("issuance.contexts").joinpath(PINNED_CONTEXTS[url]).read_bytes()


@pytest.mark.parametrize(
    ("url", "shared"),
    [
        (OB_V3P0_3_0_3, ("contexts", "ob-v3p0-context-3.0.3.json")),
        (DATA_INTEGRITY_V2, ("contexts", "data-integrity-v2.jsonld")),
        (MULTIKEY_V1, ("contexts", "multikey-v1.jsonld")),
    ],
)
def test_pinned_contexts_are_the_shared_originals(url, shared):
    assert _pinned(url) == _shared(*shared).read_bytes()


def test_pinned_context_hashes_do_not_change():
    """Changing a pinned context changes what existing signatures mean: add a new file instead."""
    expected = {
        "credentials-v2.jsonld": "8a9f494a89ecc51db093e90e84713e07e84d6d9204364a9b3c7868b21751236f",
        "credentials-examples-v2.jsonld": "57393fbc69d6efb9b9b5dc9cb6b9880b0944360abfe2eaf459c9e58cf2279d7c",
        "ob-v3p0-context-3.0.3.json": "ef2fa9c7846dce233cc166b43639027278be4ee44f00bb1d45c75de2dd0cd761",
        "data-integrity-v2.jsonld": "0f77743daf5b4e8fc067fc5ba5b21044283053aa717fc6b0219843bed3b00363",
        "multikey-v1.jsonld": "c5f3806f8286920573221938917988a18a4cc5a09e968d29649613c7a1c2b1f6",
        "did-v1.jsonld": "62c1054bf404d6dd3a4b26b64f830fd72095f6a26edc4469908c94351352ce5f",
        "stackwise-eu-mc-v1.jsonld": "be4c7571848414531ed1266ca10057e658b80c9e907f90e930ce310ca0c138cc",
    }
    actual = {name: _sha256(_pinned(url)) for url, name in PINNED_CONTEXTS.items()}
    assert actual == expected


def test_vc_v2_context_matches_the_copy_pyld_ships():
    import pyld

    bundled = Path(pyld.__file__).parent / "documentloader" / "frozen" / "bundled" / "credentials-v2.jsonld"
    assert json.loads(bundled.read_text(encoding="utf-8")) == context_document(VC_V2)
    context = context_document(VC_V2)["@context"]
    assert "@vocab" not in context  # the final VC 2.0 context: undefined terms are not silently accepted
    assert "BitstringStatusListEntry" in context


def test_shipped_ob3_schema_is_the_official_one():
    from importlib import resources

    shipped = resources.files("issuance.schemas").joinpath("ob_v3p0_achievementcredential.json").read_bytes()
    assert shipped == _shared("ob3", "schema_achievementcredential.json").read_bytes()


# ---------------------------------------------------------------- proof sets (vc-di-eddsa proof-set-chain)

PROOF_SETS = ("vc", "vc-di-eddsa", "TestVectors", "proof-set-chain")


def test_proof_set_vector_is_reproduced_and_verifies():
    keys = _json(*PROOF_SETS, "multiKeyPairs.json")
    document = _json(*PROOF_SETS, "unsigned.json")
    for number, pair in ((1, "keyPair1"), (2, "keyPair2")):
        config = _json(*PROOF_SETS, f"proofSetConfig{number}.json")
        private = decode_secret_multikey(keys[pair]["privateKeyMultibase"])
        document = sign(
            document, private, config["verificationMethod"], created=config["created"], options={"id": config["id"]}
        )
    expected = _json(*PROOF_SETS, "signedProofSet2.json")
    assert document == expected
    result = verify_proof(expected, resolve_did_key)
    assert result.ok, result.reason
    assert len(result.verification_methods) == 2
    forged = copy.deepcopy(expected)
    forged["proof"][1]["proofValue"] = expected["proof"][0]["proofValue"]
    result = verify_proof(forged, resolve_did_key)
    assert not result.ok
    assert result.reason.startswith("proof 2 of 2: the signature does not match")


def test_proof_chains_are_reported_as_unsupported():
    result = verify_proof(_json(*PROOF_SETS, "signedProofChain2.json"), resolve_did_key)
    assert not result.ok
    assert "previousProof" in result.reason


# ---------------------------------------------------------------- official OB 3.0 examples


@pytest.mark.parametrize(
    "name",
    [
        "achievementAlignmentCase_0.json",
        "achievementAlignmentCe_0.json",
        "basicOpenBadgeCredential_0.json",
        "fullOpenBadge_0.json",
        "skillAssertionCase_0.json",
        "skillAssertionCtdl_0.json",
    ],
)
def test_official_ob3_examples_pass_the_schema(name):
    from issuance.dataintegrity import undefined_terms
    from issuance.verify import schema_errors

    example = _json("ob3", "examples", name)
    assert schema_errors(example) == []
    if "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json" not in example["@context"]:  # not pinned
        assert undefined_terms(example) == []


def test_poison_graphs_are_refused_within_a_work_limit():
    """Highly symmetric blank-node graphs make RDFC-1.0 exponential; canonicalization gives up instead."""
    size = 8
    clique = [
        {"@id": f"_:b{i}", "https://ex.example/knows": [{"@id": f"_:b{j}"} for j in range(size) if j != i]}
        for i in range(size)
    ]
    with pytest.raises(CanonicalizationError, match="too symmetric"):
        canonicalize({"@context": {}, "@graph": clique})
