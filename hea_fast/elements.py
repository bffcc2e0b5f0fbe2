"""Element property tables and binary mixing-enthalpy matrices for the descriptor kernel.

Two named tables:

``"default"``
    The project's snapshot ``hea_fast/data/elements.csv`` + ``pair_enthalpy.csv`` (built by
    ``scripts/build_element_table.py``; every column's source and unit in ``hea_fast/data/README.md``):
    CN12 metallic radius (pm), Pauling and Allen electronegativity, VEC (HEA convention), melting
    point (K), bulk modulus (GPa), molar volume (cm³/mol), and the Takeuchi & Inoue (2005) binary
    liquid ΔH_mix (kJ/mol). Entropy uses R = 8.314462618 J/(mol K) (CODATA 2018).
``"zeng2024"``
    The element data and Miedema pair enthalpies of the d-VAE paper (Zeng, Khan, Post,
    arXiv 2409.06740), rebuilt from public sources by ``scripts/build_zeng2024_table.py`` into the
    package files ``hea_fast/data/zeng2024_elements.csv`` (70 elements: mendeleev 0.14.0 atomic
    radius, Pauling χ, a "VEC" counting every electron outside the noble-gas core, Tm; the authors'
    MIT-licensed bulk moduli; mendeleev 0.14.0 atomic volume) and ``zeng2024_pairs.csv`` (qmpy's
    ordered-compound Miedema ΔH_AB at x = 0.5 for 68 elements). It equals the authors' own lookup
    (``dvae_hea_zeng2024/element_lookup_70.csv``, ``mixing_enthalpy_pairs_435.csv``) except Tb's
    χ (1.1 here, a hand-filled 1.2 there); sources per column in ``hea_fast/data/README.md``.
    It has no Allen χ. Its entropy convention reproduces the paper's features exactly: R = 8.314
    and ΔS = −R Σ c ln(c + 2⁻²³) (2⁻²³ is float32 machine epsilon; the offset shifts ΔS by
    ≈ 1e-6 J/mol/K per element).

Tables carry their conventions (gas constant, entropy log offset) so the same C++ kernel serves
all of them. Unknown values are NaN; asking for a property an element lacks raises
`ElementDataError` naming the element and property.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

__all__ = ["ElementTable", "ElementDataError", "PROPERTIES", "GAS_CONSTANT", "table_names", "clear_cache"]

#: Property columns, in the order the descriptor kernel expects (hea_fast._core.DESCRIPTOR_PROPS).
PROPERTIES: tuple[str, ...] = (
    "radius_pm",
    "chi_pauling",
    "chi_allen",
    "vec",
    "tm_K",
    "bulk_modulus_GPa",
    "molar_volume_cm3",
)

#: Molar gas constant, J/(mol K), CODATA 2018 (exact since the 2019 SI redefinition).
GAS_CONSTANT = 8.314462618

_DATA = Path(__file__).with_name("data")


class ElementDataError(ValueError):
    """An element, property or pair enthalpy is missing from an element table."""


@dataclass(frozen=True, eq=False)
class ElementTable:
    """Per-element properties plus a symmetric pair-enthalpy table.

    properties: DataFrame indexed by element symbol with the `PROPERTIES` columns (NaN = unknown).
    pairs: dict {frozenset({A, B}): ΔH_AB in kJ/mol}.
    """

    name: str
    properties: pd.DataFrame
    pairs: dict = field(repr=False)
    gas_constant: float = GAS_CONSTANT
    log_offset: float = 0.0
    description: str = ""

    # ---- construction ----------------------------------------------------------------------
    @classmethod
    def load(cls, name: str = "default") -> "ElementTable":
        """A named table: "default" or "zeng2024" (the d-VAE paper's), both package files."""
        if isinstance(name, ElementTable):
            return name
        return _load_named(str(name))

    @classmethod
    def from_frames(
        cls,
        name: str,
        properties: pd.DataFrame,
        pairs: pd.DataFrame | None = None,
        *,
        gas_constant: float = GAS_CONSTANT,
        log_offset: float = 0.0,
        description: str = "",
    ) -> "ElementTable":
        """Build a custom table.

        properties: indexed by symbol (or with a ``symbol`` column); any subset of `PROPERTIES`
        (missing columns become NaN). pairs: columns el1, el2 and a ΔH column in kJ/mol
        (``dH_kJmol``, or the third column).
        """
        props = properties.copy()
        if "symbol" in props.columns:
            props = props.set_index("symbol")
        props.index = props.index.astype(str)
        if props.index.duplicated().any():
            dup = props.index[props.index.duplicated()].tolist()
            raise ElementDataError(f"table {name!r}: duplicate element rows {dup}")
        # extra columns (Z, *_source, notes) are ignored on purpose
        props = props.reindex(columns=list(PROPERTIES)).astype(float)
        pair_map: dict = {}
        if pairs is not None and len(pairs):
            hcol = "dH_kJmol" if "dH_kJmol" in pairs.columns else pairs.columns[2]
            for a, b, h in zip(pairs["el1"].astype(str), pairs["el2"].astype(str), pairs[hcol].astype(float)):
                if a == b:
                    continue
                key = frozenset((a, b))
                if key in pair_map and pair_map[key] != h:
                    raise ElementDataError(f"table {name!r}: pair {a}-{b} given twice ({pair_map[key]} and {h})")
                pair_map[key] = float(h)
        if not (np.isfinite(gas_constant) and gas_constant > 0):
            raise ValueError(f"gas_constant must be positive, got {gas_constant}")
        if not (np.isfinite(log_offset) and log_offset >= 0):
            raise ValueError(f"log_offset must be >= 0, got {log_offset}")
        return cls(name, props, pair_map, float(gas_constant), float(log_offset), description)

    # ---- queries ---------------------------------------------------------------------------
    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self.properties.index)

    def __contains__(self, symbol) -> bool:
        return symbol in self.properties.index

    def __len__(self) -> int:
        return len(self.properties)

    def __repr__(self) -> str:
        return f"ElementTable({self.name!r}, {len(self)} elements, {len(self.pairs)} pairs)"

    # NumPy views of `properties` (pandas .loc costs milliseconds per call; featurize calls these
    # for every chunk). cached_property writes to __dict__, which a frozen dataclass allows.
    @functools.cached_property
    def _row(self) -> dict:
        return {e: i for i, e in enumerate(self.properties.index)}

    @functools.cached_property
    def _values(self) -> np.ndarray:
        return self.properties.to_numpy(dtype=float)

    def check_elements(self, elements: Iterable[str]) -> None:
        missing = [e for e in elements if e not in self._row]
        if missing:
            raise ElementDataError(
                f"element(s) {missing} not in element table {self.name!r} "
                f"({len(self)} elements: {', '.join(self.symbols)})"
            )

    def property_matrix(self, elements: Sequence[str], properties: Sequence[str] = PROPERTIES) -> np.ndarray:
        """(E, P) float64 array of `properties` for `elements` (NaN where unknown)."""
        elements = list(elements)
        self.check_elements(elements)
        bad = [p for p in properties if p not in PROPERTIES]
        if bad:
            raise ElementDataError(f"unknown property {bad}; known: {PROPERTIES}")
        rows = [self._row[e] for e in elements]
        cols = [PROPERTIES.index(p) for p in properties]
        return np.ascontiguousarray(self._values[np.ix_(rows, cols)])

    def require(self, elements: Sequence[str], properties: Iterable[str], why: str = "") -> None:
        """Raise `ElementDataError` if any of `properties` is unknown for any of `elements`."""
        elements, properties = list(elements), list(properties)
        sub = self.property_matrix(elements, properties)
        if np.isnan(sub).any():
            gaps = [f"{p} of {e}" for k, p in enumerate(properties) for i, e in enumerate(elements) if np.isnan(sub[i, k])]
            raise ElementDataError(
                f"element table {self.name!r} has no value for {', '.join(gaps)}"
                + (f" (needed by {why})" if why else "")
                + "; drop those descriptors or use another table"
            )

    def pair_enthalpy(self, a: str, b: str) -> float:
        """ΔH_AB (kJ/mol); 0 for a == b; raises `ElementDataError` when the table has no value."""
        if a == b:
            self.check_elements([a])
            return 0.0
        try:
            return self.pairs[frozenset((a, b))]
        except KeyError:
            raise ElementDataError(f"element table {self.name!r} has no mixing enthalpy for the pair {a}-{b}") from None

    def pair_matrix(self, elements: Sequence[str]) -> np.ndarray:
        """(E, E) symmetric float64 matrix of ΔH_ij (kJ/mol), zero diagonal, NaN where unknown."""
        elements = list(elements)
        self.check_elements(elements)
        E = len(elements)
        H = np.zeros((E, E))
        for i in range(E):
            for j in range(i + 1, E):
                H[i, j] = H[j, i] = self.pairs.get(frozenset((elements[i], elements[j])), np.nan)
        return H


def table_names() -> tuple[str, ...]:
    return ("default", "zeng2024")


def clear_cache() -> None:
    """Forget the named tables loaded in this process (e.g. after the data home changed)."""
    _load_named.cache_clear()


@functools.lru_cache(maxsize=None)
def _load_named(name: str) -> ElementTable:
    if name == "default":
        props = pd.read_csv(_DATA / "elements.csv")
        pairs = pd.read_csv(_DATA / "pair_enthalpy.csv")
        return ElementTable.from_frames(
            "default", props, pairs, gas_constant=GAS_CONSTANT, log_offset=0.0,
            description="hea_fast snapshot: CN12 radii, Pauling/Allen chi, HEA VEC, Tm, K, Vm; "
            "Takeuchi-Inoue 2005 pair enthalpies",
        )
    if name == "zeng2024":
        props = pd.read_csv(_DATA / "zeng2024_elements.csv")
        pairs = pd.read_csv(_DATA / "zeng2024_pairs.csv")
        return ElementTable.from_frames(
            "zeng2024", props, pairs, gas_constant=8.314, log_offset=float(np.finfo(np.float32).eps),
            description="d-VAE paper (Zeng et al. 2024) element lookup and qmpy Miedema pair enthalpies, "
            "rebuilt from public data (scripts/build_zeng2024_table.py)",
        )
    raise ElementDataError(f"unknown element table {name!r}; choose one of {table_names()} or build one with ElementTable.from_frames")
