"""Public high-entropy-alloy datasets: data home, checksummed files, tidy loaders.

Only this module knows where data lives (DESIGN.md §5). Files sit in the *data home*,
``$HEA_FAST_DATA`` or else ``~/.cache/hea_fast``, one folder per dataset with the file names of the
public sources (the layout of ``../shared/data``). Every file has a SHA-256 in :data:`FILES`; a
file missing from the data home is downloaded from its public source when one exists and the
network allows (checksum verified, atomic write), otherwise :class:`DatasetNotFoundError` says
exactly where to put it. A file whose bytes differ from the registered checksum raises
:class:`ChecksumError` (opt out with ``verify=False`` or ``HEA_FAST_VERIFY=0``).

Loaders return tidy :class:`pandas.DataFrame` objects with one row per record and:

- ``formula``: the canonical formula (``CompositionBatch(...).formulas()``: at.%, elements by atomic
  number) of the parsed composition; ``formula_raw``: the string as the source wrote it (for the
  Peivaste/Singh sheets, PROVENANCE's b2-repaired column); repairs made here are noted in ``cleaning``;
- one float64 column per element holding **atomic fractions** (rows sum to 1). The element columns
  are exactly ``element_columns(df)`` (also stored in ``df.attrs["elements"]``) and
  ``composition_batch(df)`` turns them into a :class:`~hea_fast.composition.CompositionBatch`;
- labels (``single_phase`` 0/1 where the source has a phase label: 1 = exactly one solid-solution
  phase, FCC, BCC or HCP; int64, or nullable Int64 with <NA> where a source leaves the phase blank; ``phase`` in the common vocabulary :data:`PHASE_TOKENS`, e.g. ``FCC``,
  ``BCC``, ``FCC+BCC``, ``BCC+IM``, ``AM``; yield strength in MPa / GPa and temperatures in K);
- ``source``: which dataset (and sheet) the row comes from;
- ``parse_error``: ``""`` when the formula parsed, else the reason (such rows keep NaN fractions and
  an empty ``formula``; nothing is dropped silently);
- ``composition_id`` (equal ids = the same composition rounded to 0.1 at.%, -1 when unparsed; group
  cross-validation folds on it), ``duplicate`` (the composition occurs in an earlier row) and
  ``label_conflict`` (the composition occurs with more than one ``single_phase`` value; ``phase_conflict``
  likewise for ``phase``);
  ``cleaning``: a note on any repair applied to that row (``""`` otherwise).

Units: fractions dimensionless, temperatures K (``T_C`` in °C where the source gives °C), yield
strengths MPa (``YS_MPa``) and GPa (``YS_GPa``).

Sources (full provenance in each folder's PROVENANCE.md):
Yan, Lu, Wang, Comput. Mater. Sci. 199 (2021) 110723; Zeng, Khan, Post, arXiv 2409.06740 (2024);
Borg et al., Sci. Data 7, 430 (2020); the X-Yield (Bi-RPT) experimental set of
xxchenxx/glass-froming-ability-prediction, derived from Borg 2020; Singh et al., Sci. Rep. 13 (2023) (via Peivaste's compilation); Machaka et al., Data in
Brief 38 (2021) 107346; the Gao table used by Feng et al., npj Comput. Mater. 7, 10 (2021); Peivaste
et al., Sci. Rep. (2023) compilation.
"""
from __future__ import annotations

import functools
import hashlib
import io
import csv
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hea_fast import composition as _comp
from hea_fast.composition import ELEMENTS

__all__ = [
    "ChecksumError",
    "DatasetNotFoundError",
    "DataFile",
    "DatasetInfo",
    "FILES",
    "DATASETS",
    "PHASE_TOKENS",
    "XYIELD_ELEMENTS",
    "data_home",
    "fetch",
    "list_datasets",
    "load",
    "describe",
    "element_columns",
    "composition_batch",
    "normalize_phase",
    "load_yan2021",
    "load_dvae_splits",
    "load_mpea",
    "load_xyield_experimental",
    "xyield_filter",
    "load_singh2023",
    "load_machaka2021",
    "load_gao2017",
    "load_peivaste2023",
    "clear_cache",
]


# ---------------------------------------------------------------------------------------------
# Errors
class DatasetNotFoundError(FileNotFoundError):
    """A dataset file is not in the data home and could not be downloaded."""


class ChecksumError(ValueError):
    """A dataset file's SHA-256 differs from the registered one (corrupt or different version)."""


# ---------------------------------------------------------------------------------------------
# File registry
@dataclass(frozen=True)
class DataFile:
    """One file of a dataset folder: where it comes from and what its bytes hash to."""

    dataset: str
    name: str
    sha256: str
    url: str | None = None  # public raw URL at a pinned commit; None for files derived here
    note: str = ""  # how a derived file was made (see the folder's PROVENANCE.md)


_GH = "https://raw.githubusercontent.com"
_YAN = f"{_GH}/cengc13/ml-hea-corrosion-code-data/bb8d644b738285bc861b8f545310863f40c105f2/single-phase-HEA/dataset/2021Yan-SP-HEA"
_DVAE = f"{_GH}/cengc13/d_vae_hea/84e4084464321a5ad154b1888fee35885ab96e6f/data"
_BORG = f"{_GH}/CitrineInformatics/MPEA_dataset/d31e2510cccc3fb9e79d43ad62652f64ef8c2c5e"
_MACHAKA = f"{_GH}/varela8/Data_Sets_HEA/9d6da3b6586edabaaa14ec5509cb92f3f542c95c"
_PEIVASTE = f"{_GH}/Iman-Peivaste/ML_HEAs_Phase_Dataset/b9a75ab9e30915f14015daf2dd63b3106732b114/Dataset"
_TAKEUCHI = f"{_GH}/wch3n/mpea_stability/29bcbb6e2e9d1b630fc572def60f38b80e6456d9/model_params/expt"
_SSPREDICT = f"{_GH}/DS-Wen/SSPredict/663f693405b066d4b93751c8374d9f5412c501ee/notebook"
_DVAE_DERIVED = "decoded from the pickles in cengc13/d_vae_hea data/ (see dvae_hea_zeng2024/PROVENANCE.md)"
_XYIELD_DERIVED = ("decoded from data_split_*.pkl / Z_row_column.txt of xxchenxx/glass-froming-ability-prediction "
                   "(see the folder's PROVENANCE.md)")

_FILE_LIST = [
    DataFile("yan2021_sphea", "2021Yan_dataset.csv",
             "24699753faf93a870bc1b46712c4a1da52211dc6393690362ee87b32863fbbf3", f"{_YAN}/2021Yan_dataset.csv"),
    DataFile("yan2021_sphea", "2021Yan_feature_engineered.csv",
             "53f97bb52c073376956e759bc1d8641be52f4eefdeca0f4bfa95a5084a13060d",
             f"{_YAN}/2021Yan_feature_engineered.csv"),
    DataFile("dvae_hea_zeng2024", "HEA_top30_comps.csv",
             "ddeeab9b7746baf32a00974ac8852aeaea031fac3f7d1436e9f591d93b7bf304", f"{_DVAE}/HEA_top30_comps.csv"),
    DataFile("dvae_hea_zeng2024", "HEA_feature_engineered.csv",
             "fa38205436061dd820653595544ccefda02675f57a5e3cb5acc239552d517139",
             f"{_DVAE}/HEA_feature_engineered.csv"),
    DataFile("dvae_hea_zeng2024", "test_data_reconstruction_analysis.csv",
             "8c0d65cbc2c35c3af653268e3164f07c2cb1960166ffb3c9b5145032db5fb131",
             f"{_DVAE}/test_data_reconstruction_analysis.csv"),
    DataFile("dvae_hea_zeng2024", "hyper-parameter-tuning.json",
             "0f11398b269a2427e09c48da6c6df0ac8ebdffde3b002eb731e00b78b80f7fb5",
             f"{_DVAE}/hyper-parameter-tuning.json"),
    DataFile("dvae_hea_zeng2024", "ssvae_splits_1373.csv",
             "a6b6e7c534de1a649f3aa953d931bcff462ccf5ad09cf1f0f9ea0cf48c33f567", None,
             "the four split pickles (labelled/unlabelled/validation/test_hea.pk) concatenated; " + _DVAE_DERIVED),
    DataFile("dvae_hea_zeng2024", "element_lookup_70.csv",
             "9bcf975a3d4e665bb140183bda46b483e1749b5623d099080aa3f9cb72b51ccb", None,
             "look_up_dict.pkl as CSV; " + _DVAE_DERIVED),
    DataFile("dvae_hea_zeng2024", "mixing_enthalpy_pairs_435.csv",
             "e1951f338a49eac92b44d7068f2411808c5bf5d3073da9b3f4fc7aa8c31476fb", None,
             "mixing_enthalpy_dict.pkl as CSV; " + _DVAE_DERIVED),
    DataFile("dvae_hea_zeng2024_model", "ssvae_released_state_dict.npz",
             "b43813ccfc2f81a034f13de62ef0a0a0adb59c86bed1ac3eabbf59d97edecd75", None,
             "models/ssvae.model of cengc13/d_vae_hea converted to npz (see the folder's PROVENANCE.md)"),
    DataFile("dvae_hea_zeng2024_model", "golden_exact_shap_test138.csv",
             "e74fe13ccde328f20a4729a30a707f8edb4a7901c7c6d60c0996543ce847a2f6", None,
             "computed from the released weights (see the folder's PROVENANCE.md)"),
    DataFile("dvae_hea_zeng2024_model", "golden_iterative_design.csv",
             "f5cadf9961b76683961f945772e39b557ed18b5b729c0edbfe9824722293cb65", None,
             "computed from the released weights (see the folder's PROVENANCE.md)"),
    DataFile("dvae_hea_zeng2024_model", "golden_latent_scan_25.csv",
             "a5a6af7fb9b129fbafe0cc32c854bc1f1419876d423f62eed95e71a3ab4046bd", None,
             "the authors' printed notebook output (see the folder's PROVENANCE.md)"),
    DataFile("dvae_hea_zeng2024_model", "golden_test138_predictions.csv",
             "6d28257129024b0917adc7127a641a470cf5cd7eff23682b386937fcf4bafed3", None,
             "computed from the released weights (see the folder's PROVENANCE.md)"),
    DataFile("mpea_borg2020", "MPEA_dataset.csv",
             "c5504d93fd324d1be26cf814d0694ee9ee95578d68a0b38aba6813b939fa2c5d", f"{_BORG}/MPEA_dataset.csv"),
    DataFile("mpea_borg2020", "compositions.csv",
             "c4a8700e3b9387c31051a141ea55fd109a8de9b8b2754190d426dea5e794a751",
             f"{_BORG}/stats_and_tables/compositions.csv"),
    DataFile("mpea_borg2020", "references.csv",
             "54601f6302088769b8320d7d318053903b0976901050e63a13cc9ae91e41e991",
             f"{_BORG}/references/references.csv"),
    DataFile("xyield_exp240", "xyield_exp240.csv",
             "36a1252448157af7cbffecb10f6ca5add635531295a7b465eacf8a25a5a35973", None, _XYIELD_DERIVED),
    DataFile("xyield_rptr_layout", "feng2021_ptr_rptr_layout.csv",
             "4b58771805de9053e02a8b53ca9edca4cadff1abc766135cae84039b33cb710f", None, _XYIELD_DERIVED),
    DataFile("mc2020_monbtavw_digitized", "MoNbTaVW_exp.csv",
             "cb3d39a71186b5d9735d38686554e2c5a56920438c1aefe12e52285c732f5a85", f"{_SSPREDICT}/MoNbTaVW_exp.csv"),
    DataFile("mc2020_monbtavw_digitized", "MoNbTaVW_paper_extracted.csv",
             "b47fc0b82f4c819596a7b95a7ad3d88e9ed66af98062d722d03e55b1400f69a4",
             f"{_SSPREDICT}/MoNbTaVW_paper_extracted.csv"),
    DataFile("singh2023_via_peivaste", "singh_sheet_1033.csv",
             "ec745a939d03a0b633f114af4290b53a4fadad26b26466445425483ef57c5ffb", None,
             "sheet 'Swati Singh' of peivaste2023_compilation/Dataset_HEAs.xlsx with a repaired-formula column "
             "(see the folder's PROVENANCE.md)"),
    DataFile("machaka2021_dib", "HEA_Phase_DataSet_v1d.csv",
             "56f918a9a3349a03f9bb946717fa571a3380d2dd243d920c6060cc0d60e40b81",
             f"{_MACHAKA}/HEA_Phase_DataSet_v1d.csv"),
    DataFile("gao2017_feng2021", "gao_hea_355.csv",
             "b9fc2ffe56fa66eecb6c9e2cf4bcad1b96f1930acfcd887e100927e98f87abb1", None,
             "gao_data.txt of sf254/glass-froming-ability-prediction decoded to CSV (see the folder's PROVENANCE.md)"),
    DataFile("peivaste2023_compilation", "Dataset_HEAs.xlsx",
             "dc9cb3ed246f7746476a652f583da5111b01fc7d5306c35230e5a96eb7303c0c", f"{_PEIVASTE}/Dataset_HEAs.xlsx"),
    DataFile("peivaste2023_compilation", "Dataset_HEAs_all_sheets_long.csv",
             "d7a7cc42f5c9842b2e938223f57a35b22be76579c9b6cd31d7100a9ed86a67a3", None,
             "all sheets of Dataset_HEAs.xlsx stacked, with a repaired-formula column (see the folder's PROVENANCE.md)"),
    DataFile("peivaste2023_compilation", "Enthalpy_mix.csv",
             "536c52e0f490dd138bc905d94844e9a73a81e755e19275ae9a4cd8306af32c49", f"{_PEIVASTE}/Enthalpy_mix.csv"),
    DataFile("peivaste2023_compilation", "elemental_propertieses.csv",
             "9d6188879dafd927292c0d4236d08f6d052b025dc3c980abd663e8ec2a2c8349",
             f"{_PEIVASTE}/elemental_propertieses.csv"),
    DataFile("takeuchi_hmix_chen2023", "takeuchi.csv",
             "c51eb62505974f82cf6a4a09abd5e30fdbe794e20c6fc5f785b2ae466266f30a", f"{_TAKEUCHI}/takeuchi.csv"),
]

#: (dataset folder, file name) -> DataFile, for every file a loader or another module reads.
FILES: dict[tuple[str, str], DataFile] = {(f.dataset, f.name): f for f in _FILE_LIST}

_DOWNLOAD_TIMEOUT_S = 10.0


def data_home() -> Path:
    """The data home: ``$HEA_FAST_DATA`` when set (non-empty), else ``~/.cache/hea_fast``."""
    env = os.environ.get("HEA_FAST_DATA", "").strip()
    return Path(env).expanduser().resolve() if env else (Path.home() / ".cache" / "hea_fast")


def _env_flag(name: str, default: bool) -> bool:
    v = os.environ.get(name)
    if v is None or v.strip() == "":
        return default
    return v.strip().lower() not in ("0", "false", "no", "off")


def _verify_default(verify: bool | None) -> bool:
    return _env_flag("HEA_FAST_VERIFY", True) if verify is None else bool(verify)


def _file_entry(dataset: str, name: str) -> DataFile:
    try:
        return FILES[(dataset, name)]
    except KeyError:
        known = sorted(f"{d}/{n}" for d, n in FILES)
        raise KeyError(f"no registered data file {dataset}/{name}; known files: {', '.join(known)}") from None


@functools.lru_cache(maxsize=256)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    # keyed on (size, mtime) so a file replaced in place is hashed again
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _sha256(path: Path) -> str:
    st = path.stat()
    return _sha256_cached(str(path), st.st_size, st.st_mtime_ns)


def _check(path: Path, entry: DataFile) -> None:
    got = _sha256(path)
    if got != entry.sha256:
        raise ChecksumError(
            f"checksum mismatch for {path}: SHA-256 {got}, expected {entry.sha256} "
            f"({entry.dataset}/{entry.name}"
            + (f", source {entry.url}" if entry.url else "")
            + "). The file is corrupt or a different version: replace it, or pass verify=False "
            "(or set HEA_FAST_VERIFY=0) to use it anyway."
        )


def _download(url: str, dest: Path, sha256: str | None, timeout: float = _DOWNLOAD_TIMEOUT_S) -> Path:
    """Download `url` to `dest` atomically (temp file + os.replace), verifying `sha256` first.

    Raises OSError (incl. urllib.error.URLError) on network failure and ChecksumError when the
    downloaded bytes do not hash to `sha256`; `dest` is never left half-written.
    """
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    h = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            dest.parent.mkdir(parents=True, exist_ok=True)  # only once the source answered
            with open(tmp, "wb") as out:
                for chunk in iter(lambda: resp.read(1 << 20), b""):
                    h.update(chunk)
                    out.write(chunk)
        if sha256 is not None and h.hexdigest() != sha256:
            raise ChecksumError(f"downloaded {url} has SHA-256 {h.hexdigest()}, expected {sha256}; not saved")
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()
    return dest


def fetch(dataset: str, name: str, *, verify: bool | None = None, download: bool | None = None) -> Path:
    """Path of registered file `name` of `dataset` in the data home, downloading it if missing.

    verify: check the SHA-256 (default True, or ``HEA_FAST_VERIFY``); a mismatch raises ChecksumError.
    download: try the public source when the file is missing (default True unless
    ``HEA_FAST_OFFLINE=1``). Raises DatasetNotFoundError naming the file and where to put it.
    """
    entry = _file_entry(dataset, name)
    home = data_home()
    path = home / dataset / name
    verify = _verify_default(verify)
    if path.is_file():
        if verify:
            _check(path, entry)
        return path
    if download is None:
        download = not _env_flag("HEA_FAST_OFFLINE", False)
    reason = ""
    if entry.url and download:
        try:
            _download(entry.url, path, entry.sha256 if verify else None)
            return path
        except ChecksumError:
            raise
        except (OSError, urllib.error.URLError, ValueError) as exc:  # offline, 404, read-only home …
            reason = f" Download from {entry.url} failed: {exc}."
    elif entry.url:
        reason = f" Downloads are off (HEA_FAST_OFFLINE); its public source is {entry.url}."
    else:
        reason = f" It has no direct public download: {entry.note}."
    raise DatasetNotFoundError(
        f"data file {dataset}/{name} not found: put it at {path} "
        f"(data home {home}, from $HEA_FAST_DATA or ~/.cache/hea_fast; the folder layout is "
        f"<data home>/{dataset}/{name}).{reason} Set HEA_FAST_DATA to a folder that holds the "
        f"datasets, e.g. the shared data folder."
    )


# ---------------------------------------------------------------------------------------------
# Compositions
PHASE_TOKENS = ("FCC", "BCC", "HCP", "IM", "AM", "MULTI", "OTHER")
"""Common phase vocabulary, in the order tokens are written: FCC/BCC/HCP solid solutions, IM
(intermetallic, incl. ordered B2/L12/Laves/σ and unspecified secondary phases), AM (amorphous),
MULTI (multi-phase, constituents not given), OTHER (reported but not classifiable). A phase string
joins tokens with "+" in this order, repeating a token for several phases of one lattice
("BCC+BCC")."""
_SS = ("FCC", "BCC", "HCP")
_TOKEN_RANK = {t: i for i, t in enumerate(PHASE_TOKENS)}
_TOKEN_ALIASES = {
    "FCC": "FCC", "BCC": "BCC", "HCP": "HCP", "IM": "IM", "AM": "AM", "AMOR": "AM", "AMORPHOUS": "AM",
    "MULTI": "MULTI", "OTHER": "OTHER", "B2": "IM", "L12": "IM", "LAVES": "IM", "SEC.": "IM", "SEC": "IM",
    "SIGMA": "IM",
}


def normalize_phase(label) -> str | None:
    """Map a source's phase string to the common vocabulary (see PHASE_TOKENS); None when empty.

    ``"BCC+FCC"`` → ``"FCC+BCC"``, ``"FCC + Im"`` → ``"FCC+IM"``, ``"bcc"`` → ``"BCC"``,
    ``"BCC+Laves+Sec."`` → ``"BCC+IM+IM"``, ``"amor"`` → ``"AM"``. Raises ValueError naming an
    unknown token.
    """
    if label is None or (isinstance(label, float) and np.isnan(label)):
        return None
    s = str(label).replace("\xa0", " ").strip()
    if not s:
        return None
    tokens = []
    for part in s.split("+"):
        t = part.strip().upper()
        if not t:
            continue
        if t not in _TOKEN_ALIASES:
            raise ValueError(f"unknown phase token {part.strip()!r} in phase label {label!r}")
        tokens.append(_TOKEN_ALIASES[t])
    if not tokens:
        return None
    return "+".join(sorted(tokens, key=_TOKEN_RANK.__getitem__))


def _single_phase_from(phase: pd.Series) -> pd.Series:
    """1 when the phase string is exactly one solid-solution phase, 0 otherwise, <NA> when unknown."""
    out = phase.isin(_SS).astype("Int64")
    out[phase.isna()] = pd.NA
    if not out.isna().any():
        out = out.astype(np.int64)
    return out


_LEADING_ZERO = re.compile(r"(?<=[A-Za-z])0(\d+)(?![\d.])")


def _fix_leading_zero(s: str) -> str:
    """'Ti025' and 'Nb06' are typos for Ti0.25 / Nb0.6 (a molar amount never starts with 0 then a
    digit); see gao2017_feng2021 and peivaste2023_compilation PROVENANCE."""
    return _LEADING_ZERO.sub(r"0.\1", s)


def _composition_module():
    return _comp


_Z = {s: i + 1 for i, s in enumerate(ELEMENTS) if s not in ("D", "T")}


def element_columns(df: pd.DataFrame) -> list[str]:
    """The element-fraction columns of a loader's frame (``df.attrs["elements"]`` when present)."""
    els = df.attrs.get("elements")
    if els:
        return [e for e in els if e in df.columns]
    return [c for c in df.columns if c in _Z]


def composition_batch(df: pd.DataFrame, *, drop_errors: bool = True):
    """A CompositionBatch of the frame's element-fraction columns.

    Rows with a ``parse_error`` (NaN fractions) are left out when `drop_errors` (default), so the
    batch aligns with ``df[df.parse_error == ""]``; otherwise they raise.
    """
    comp = _composition_module()
    cols = element_columns(df)
    sub = df
    if drop_errors and "parse_error" in df.columns:
        sub = df[df["parse_error"] == ""]
    frac = np.ascontiguousarray(sub[cols].to_numpy(np.float64))
    return comp.CompositionBatch(frac, tuple(cols))


@dataclass
class _Parsed:
    fractions: np.ndarray  # (n, E) float64; NaN rows where parsing failed
    elements: tuple
    formula: list
    error: list


def _parse_strings(raw, elements: tuple | None = None) -> _Parsed:
    """Parse formula strings (each unique string once) into a fraction matrix.

    Elements default to every element that occurs, ordered by atomic number. Failures become NaN
    rows with the CompositionError message in `error`.
    """
    comp = _composition_module()
    raw = ["" if (r is None or (isinstance(r, float) and np.isnan(r))) else str(r) for r in raw]
    cache: dict[str, dict | str] = {}
    for s in raw:
        if s in cache:
            continue
        try:
            cache[s] = comp.parse_formula(s)
        except comp.CompositionError as exc:
            cache[s] = str(exc) or f"cannot parse {s!r}"
        except ValueError as exc:  # any other ValueError from the parser is still a per-row report
            cache[s] = f"{type(exc).__name__}: {exc}"
    if elements is None:
        seen = set()
        for v in cache.values():
            if isinstance(v, dict):
                seen.update(v)
        elements = tuple(sorted(seen, key=lambda e: _Z.get(e, 1000)))
    col = {e: j for j, e in enumerate(elements)}
    # fill one row per unique string, then broadcast (formatting canonical formulas is the slow part)
    uniq = list(cache)
    urow = {u: k for k, u in enumerate(uniq)}
    ufrac = np.zeros((len(uniq), len(elements)), dtype=np.float64)
    uerr = [""] * len(uniq)
    for k, u in enumerate(uniq):
        v = cache[u]
        if isinstance(v, str):
            ufrac[k] = np.nan
            uerr[k] = v
            continue
        for e, x in v.items():
            if e not in col:
                ufrac[k] = np.nan
                uerr[k] = f"element {e} of {u!r} is outside this table's elements"
                break
            ufrac[k, col[e]] = x
    uform = _formulas(ufrac, elements)
    idx = np.fromiter((urow[s] for s in raw), dtype=np.int64, count=len(raw))
    frac = ufrac[idx]
    return _Parsed(frac, tuple(elements), [uform[k] for k in idx], [uerr[k] for k in idx])


def _formulas(frac: np.ndarray, elements) -> list:
    """Canonical formulas of rows (empty string for NaN rows)."""
    comp = _composition_module()
    ok = ~np.isnan(frac).any(axis=1)
    out = [""] * frac.shape[0]
    if ok.any():
        good = np.ascontiguousarray(frac[ok])
        good = good / good.sum(axis=1, keepdims=True)
        strs = comp.CompositionBatch(good, tuple(elements)).formulas()
        for i, s in zip(np.flatnonzero(ok), strs):
            out[i] = s
    return out


def _composition_keys(frac: np.ndarray, decimals: int = 3) -> np.ndarray:
    """Hashable per-row keys: fractions rounded to `decimals` (3 → 0.1 at.%); NaN rows get unique keys.

    0.1 at.% is the resolution at which PROVENANCE counts duplicates (Al0.348CoCrFeNi ≡ Al.35CoCrFeNi).
    """
    r = np.round(np.nan_to_num(frac, nan=-1.0) * 10**decimals).astype(np.int64)
    keys = np.array([row.tobytes() for row in r], dtype=object)
    bad = np.isnan(frac).any(axis=1)
    for i in np.flatnonzero(bad):
        keys[i] = b"unparsed:%d" % int(i)  # bytes like the others (mixed key types break sorting)
    return keys


def _conflicts(keys: pd.Series, labels: pd.Series) -> np.ndarray:
    """True for rows whose composition key carries more than one distinct (non-missing) label."""
    pairs = pd.DataFrame({"k": keys.to_numpy(), "l": labels.astype(object).to_numpy()})
    pairs = pairs[labels.notna().to_numpy()].drop_duplicates()
    n_labels = pairs.groupby("k", sort=False).size()
    return keys.map(n_labels).fillna(0).to_numpy() > 1


def _frame(meta: dict, parsed: _Parsed, *, source, tail: dict | None = None, label: str | None = "single_phase"):
    """Assemble a tidy frame: meta columns, formula, element fractions, tail columns, flags."""
    n = len(parsed.formula)
    df = pd.DataFrame(meta)
    df.insert(0, "formula", parsed.formula)
    fr = pd.DataFrame(parsed.fractions, columns=list(parsed.elements))
    df = pd.concat([df.reset_index(drop=True), fr], axis=1)
    for k, v in (tail or {}).items():
        df[k] = v
    df["source"] = source if not isinstance(source, str) else [source] * n
    df["parse_error"] = parsed.error
    keys = _composition_keys(parsed.fractions)
    kser = pd.Series(keys, dtype=object)
    # composition_id: same id = same composition at 0.1 at.% (use it for grouped CV splits so one
    # alloy never sits on both sides); -1 for unparsed rows
    ids, _ = pd.factorize(kser, sort=False)
    ids = ids.astype(np.int64)
    bad = np.isnan(parsed.fractions).any(axis=1)
    if bad.any():
        good_ids, _ = pd.factorize(kser[~bad], sort=False)
        ids = np.full(n, -1, dtype=np.int64)
        ids[~bad] = good_ids
    df["composition_id"] = ids
    df["duplicate"] = kser.duplicated(keep="first").to_numpy()
    if label is not None and label in df.columns:
        df["label_conflict"] = _conflicts(kser, df[label])
    if "phase" in df.columns and label != "phase":
        df["phase_conflict"] = _conflicts(kser, df["phase"])
    if "cleaning" not in df.columns:
        df["cleaning"] = ""
    df.attrs["elements"] = list(parsed.elements)
    return df


# ---------------------------------------------------------------------------------------------
# Dataset metadata
@dataclass(frozen=True)
class DatasetInfo:
    name: str
    loader: str
    rows: int
    description: str
    source: str
    license: str
    folder: str
    files: tuple
    labels: tuple = field(default=())


DATASETS: dict[str, DatasetInfo] = {
    d.name: d
    for d in [
        DatasetInfo(
            "yan2021", "load_yan2021", 1807,
            "Single-phase solid-solution vs not, 1807 alloys over 70 elements (half binaries)",
            "Y. Yan, D. Lu, K. Wang, Comput. Mater. Sci. 199 (2021) 110723; via cengc13/ml-hea-corrosion-code-data",
            "MIT (repository of C. Zeng); measurements compiled from the literature",
            "yan2021_sphea", ("2021Yan_dataset.csv", "2021Yan_feature_engineered.csv"), ("single_phase",)),
        DatasetInfo(
            "dvae_splits", "load_dvae_splits", 1373,
            "The d-VAE paper's 1373 alloys (30 elements) with its exact labelled/unlabelled/validation/test splits "
            "and 8 engineered features (its own vac/ΔH conventions)",
            "C. Zeng, Z. Khan, N. Post, arXiv 2409.06740 (2024); cengc13/d_vae_hea; alloys from Yan 2021",
            "none stated (no LICENSE file): internal use", "dvae_hea_zeng2024", ("ssvae_splits_1373.csv",),
            ("single_phase", "split")),
        DatasetInfo(
            "mpea", "load_mpea", 1525,
            "Borg 2020 MPEA database: microstructure, processing, yield strength (MPa) at test temperature (K); "
            "exact duplicate rows dropped",
            "C. K. H. Borg et al., Sci. Data 7, 430 (2020); CitrineInformatics/MPEA_dataset",
            "Apache-2.0 (repository); article CC BY 4.0", "mpea_borg2020", ("MPEA_dataset.csv",),
            ("single_phase", "phase", "phase_coarse", "YS_MPa")),
        DatasetInfo(
            "xyield_experimental", "load_xyield_experimental", 240,
            "The 240 experimental X-Yield points (10 refractory elements, YS in GPa, T in K) with their 10 CV folds",
            "X-Yield / Bi-RPT working repo xxchenxx/glass-froming-ability-prediction; measurements from Borg 2020",
            "none stated: internal use", "xyield_exp240", ("xyield_exp240.csv",), ("YS_GPa", "class5", "fold")),
        DatasetInfo(
            "singh2023", "load_singh2023", 1033,
            "'Swati Singh' phase sheet (BCC/FCC/IM/BCC+FCC/...), 1033 rows, 800 compositions",
            "likely S. Singh et al., Sci. Rep. 13 (2023); sheet of Peivaste's compilation "
            "(Iman-Peivaste/ML_HEAs_Phase_Dataset)",
            "none stated: internal use", "singh2023_via_peivaste", ("singh_sheet_1033.csv",),
            ("single_phase", "phase")),
        DatasetInfo(
            "machaka2021", "load_machaka2021", 1360,
            "Machaka 2021 phase data with processing (1360 records incl. 9 whole-line-quoted ones repaired here)",
            "R. Machaka et al., Data in Brief 38 (2021) 107346 (Mendeley Data 7fhwrgfh2s); via varela8/Data_Sets_HEA",
            "treat as CC BY 4.0 (Mendeley Data; unverified), attribute Machaka et al.", "machaka2021_dib",
            ("HEA_Phase_DataSet_v1d.csv",), ("single_phase", "phase")),
        DatasetInfo(
            "gao2017", "load_gao2017", 355,
            "355 alloys labelled multi/amorphous/bcc/fcc/hcp (the Gao table used by Feng et al. 2021)",
            "M. C. Gao et al. compilation, as used by S. Feng et al., npj Comput. Mater. 7, 10 (2021); "
            "sf254/glass-froming-ability-prediction",
            "none stated: internal use", "gao2017_feng2021", ("gao_hea_355.csv",), ("single_phase", "phase")),
        DatasetInfo(
            "peivaste2023", "load_peivaste2023", 10431,
            "22 literature phase tables stacked (10431 rows, 4169 compositions; thin-film Kube/Ren sheets included)",
            "I. Peivaste et al., Sci. Rep. (2023); Iman-Peivaste/ML_HEAs_Phase_Dataset",
            "none stated: internal use", "peivaste2023_compilation", ("Dataset_HEAs_all_sheets_long.csv",),
            ("single_phase", "phase")),
    ]
}
_ALIASES = {"zeng2024": "dvae_splits", "dvae": "dvae_splits", "borg2020": "mpea", "mpea_borg2020": "mpea",
            "xyield": "xyield_experimental", "xyield_exp240": "xyield_experimental", "singh": "singh2023",
            "machaka": "machaka2021", "gao": "gao2017", "peivaste": "peivaste2023", "yan": "yan2021"}


def _resolve(name: str) -> DatasetInfo:
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[key]


def list_datasets() -> pd.DataFrame:
    """One row per dataset: name, rows, description, source, license, folder, files, loader."""
    return pd.DataFrame(
        [
            {"name": d.name, "rows": d.rows, "description": d.description, "source": d.source,
             "license": d.license, "folder": d.folder, "files": ", ".join(d.files), "loader": d.loader}
            for d in DATASETS.values()
        ]
    )


# ---------------------------------------------------------------------------------------------
# Caching: parsed frames are cached per process, keyed on the data home and the files' stat, and
# every public loader returns a deep copy so callers may modify what they get.
_BUILDERS: dict = {}


def _register(name):
    def deco(fn):
        _BUILDERS[name] = fn
        return fn

    return deco


def _stamp(info: DatasetInfo):
    home = data_home()
    st = []
    for f in info.files:
        p = home / info.folder / f
        try:
            s = p.stat()
            st.append((f, s.st_size, s.st_mtime_ns))
        except OSError:
            return None
    return (str(home), tuple(st))


@functools.lru_cache(maxsize=32)
def _cached(name: str, verify: bool, stamp) -> pd.DataFrame:
    return _BUILDERS[name](verify)


def _get(name: str, verify: bool | None) -> pd.DataFrame:
    info = DATASETS[name]
    verify = _verify_default(verify)
    stamp = _stamp(info)
    if stamp is None:  # a file is missing: fetch (download or DatasetNotFoundError), then cache
        for f in info.files:
            fetch(info.folder, f, verify=verify)
        stamp = _stamp(info)
    df = _cached(name, verify, stamp)
    out = df.copy(deep=True)
    out.attrs = {k: (list(v) if isinstance(v, list) else v) for k, v in df.attrs.items()}
    return out


def clear_cache() -> None:
    """Forget the parsed frames and file hashes cached in this process."""
    _cached.cache_clear()
    _sha256_cached.cache_clear()


def load(name: str, *, verify: bool | None = None) -> pd.DataFrame:
    """Load a dataset by name (see :func:`list_datasets`; aliases like "borg2020", "zeng2024" work)."""
    info = _resolve(name)
    return globals()[info.loader](verify=verify)


def _read_csv(dataset: str, name: str, verify: bool, **kw) -> pd.DataFrame:
    return pd.read_csv(fetch(dataset, name, verify=verify), **kw)


# ---------------------------------------------------------------------------------------------
# Loaders
@_register("yan2021")
def _build_yan(verify: bool) -> pd.DataFrame:
    raw = _read_csv("yan2021_sphea", "2021Yan_dataset.csv", verify)
    feats = _read_csv("yan2021_sphea", "2021Yan_feature_engineered.csv", verify)
    if len(feats) != len(raw) or not (feats["Alloys"].to_numpy() == raw["Alloys"].to_numpy()).all():
        raise ValueError("2021Yan_feature_engineered.csv is not row-aligned with 2021Yan_dataset.csv")
    strings = raw["Alloys"].astype(str).str.strip()
    parsed = _parse_strings(strings)
    cleaning = ["zero amount dropped" if re.search(r"[A-Z][a-z]?0(?![.\d])", s) else "" for s in strings]
    meta = {"formula_raw": strings, "single_phase": raw["Class"].astype(np.int64), "phase_raw": raw["Phase"]}
    tail = {c: feats[c].to_numpy() for c in ("k", "vm", "tm", "vac", "delta", "delta_chi", "delta_s_mix",
                                             "delta_h_mix")}
    tail["cleaning"] = cleaning
    return _frame(meta, parsed, source="yan2021", tail=tail)


def load_yan2021(*, verify: bool | None = None) -> pd.DataFrame:
    """Yan et al. 2021: 1807 rows, ``single_phase`` (1 = single-phase solid solution, 808 rows).

    Columns: formula, formula_raw, single_phase, phase_raw (SP-SS/Non-SP-SS), element fractions, the 8
    engineered features of the source (k GPa, vm cm³/mol, tm K, vac, delta %, delta_chi,
    delta_s_mix J/mol/K, delta_h_mix kJ/mol; `vac` counts all non-core electrons, see PROVENANCE),
    source, parse_error, duplicate, label_conflict, cleaning. Zero amounts (``Al0CoCrFeNi``) are dropped
    by the parser; conflicting duplicates are kept and flagged.
    """
    return _get("yan2021", verify)


DVAE_ELEMENTS = ("Fe", "Ni", "Cr", "Co", "Al", "Ti", "Cu", "Mo", "V", "Nb", "Mn", "Zr", "Ta", "W", "Hf", "Si",
                 "Rh", "Ru", "Re", "Os", "Pt", "Pd", "Ir", "Mg", "Ag", "Zn", "Sn", "Au", "Li", "Sc")
DVAE_FEATURES = ("k", "vm", "tm", "vac", "delta", "delta_chi", "delta_s_mix", "delta_h_mix")
DVAE_SPLIT_SIZES = {"labelled": 864, "unlabelled": 296, "validation": 75, "test": 138}


@_register("dvae_splits")
def _build_dvae(verify: bool) -> pd.DataFrame:
    raw = _read_csv("dvae_hea_zeng2024", "ssvae_splits_1373.csv", verify)
    frac = raw[list(DVAE_ELEMENTS)].to_numpy(np.float64)
    # The paper's model reads exactly these 30 fractions; keep them as given (no renormalisation) and
    # only derive the canonical formula from them.
    err = [""] * len(raw)
    parsed = _Parsed(frac, DVAE_ELEMENTS, _formulas(frac, DVAE_ELEMENTS), err)
    meta = {"split": raw["split"].astype(str), "orig_index": raw["orig_index"].astype(np.int64),
            "formula_raw": raw["Alloys"].astype(str), "single_phase": raw["Class"].astype(np.int64)}
    tail = {c: raw[c].to_numpy() for c in DVAE_FEATURES}
    tail.update({f"{c}_n": raw[f"{c}_n"].to_numpy() for c in DVAE_FEATURES})
    return _frame(meta, parsed, source="zeng2024", tail=tail)


def load_dvae_splits(*, verify: bool | None = None) -> pd.DataFrame:
    """The d-VAE paper's 1373 alloys with its exact splits (Zeng, Khan, Post, arXiv 2409.06740).

    ``split``: labelled 864 / unlabelled 296 / validation 75 / test 138 (the unlabelled rows keep
    their true labels; the paper hides them in training). ``single_phase`` is the paper's Class.
    Element columns are the paper's 30 fractions in its order (Fe, Ni, Cr, Co, Al, …, Li, Sc; see
    DVAE_ELEMENTS), exactly as given. The raw features ``k … delta_h_mix`` and the z-scored ``*_n``
    (mean/population-std over all 1373 rows) are kept with the paper's conventions (``vac`` counts
    all non-core electrons; ΔH from qmpy's Miedema pairs). ``orig_index`` indexes the merged table.
    """
    return _get("dvae_splits", verify)


_MPEA_COLUMNS = {
    "IDENTIFIER: Reference ID": "reference_id",
    "FORMULA": "formula_raw",
    "PROPERTY: Microstructure": "microstructure",
    "PROPERTY: Processing method": "processing",
    "PROPERTY: BCC/FCC/other": "phase_coarse",
    "PROPERTY: grain size ($\\mu$m)": "grain_size_um",
    "PROPERTY: Exp. Density (g/cm$^3$)": "density_exp_g_cm3",
    "PROPERTY: Calculated Density (g/cm$^3$)": "density_calc_g_cm3",
    "PROPERTY: HV": "HV",
    "PROPERTY: Type of test": "test_type",
    "PROPERTY: Test temperature ($^\\circ$C)": "T_C",
    "PROPERTY: YS (MPa)": "YS_MPa",
    "PROPERTY: UTS (MPa)": "UTS_MPa",
    "PROPERTY: Elongation (%)": "elongation_pct",
    "PROPERTY: Elongation plastic (%)": "elongation_plastic_pct",
    "PROPERTY: Exp. Young modulus (GPa)": "young_exp_GPa",
    "PROPERTY: Calculated Young modulus (GPa)": "young_calc_GPa",
    "PROPERTY: O content (wppm)": "O_content_wppm",
    "PROPERTY: N content (wppm)": "N_content_wppm",
    "PROPERTY: C content (wppm)": "C_content_wppm",
    "REFERENCE: doi": "doi",
    "REFERENCE: year": "year",
    "REFERENCE: title": "title",
}
KELVIN_OFFSET = 273.15


@_register("mpea")
def _build_mpea(verify: bool) -> pd.DataFrame:
    raw = _read_csv("mpea_borg2020", "MPEA_dataset.csv", verify)
    missing = [c for c in _MPEA_COLUMNS if c not in raw.columns]
    if missing:
        raise ValueError(f"MPEA_dataset.csv lacks expected columns {missing}")
    raw = raw.drop_duplicates(keep="first").reset_index(drop=True)  # 20 exact duplicate rows
    raw = raw.rename(columns=_MPEA_COLUMNS)
    strings = raw["formula_raw"].astype(str).str.strip()
    parsed = _parse_strings(strings)
    phase = raw["microstructure"].map(normalize_phase)
    # PROVENANCE: single-phase = microstructure exactly BCC or FCC (B2 alone is ordered, not SS)
    meta = {"formula_raw": strings, "phase_raw": raw["microstructure"], "phase": phase,
            "phase_coarse": raw["phase_coarse"], "single_phase": _single_phase_from(phase)}
    tail = {}
    for c in raw.columns:
        if c in ("formula_raw", "microstructure", "phase_coarse"):
            continue
        tail[c] = raw[c].to_numpy()
    tail["T_K"] = raw["T_C"].to_numpy(np.float64) + KELVIN_OFFSET
    tail["YS_GPa"] = raw["YS_MPa"].to_numpy(np.float64) / 1000.0
    return _frame(meta, parsed, source="borg2020", tail=tail)


def load_mpea(*, verify: bool | None = None) -> pd.DataFrame:
    """Borg et al. 2020 MPEA database, 1525 rows (the 20 exact duplicate rows of 1545 dropped).

    Columns: formula, formula_raw, phase_raw (the source's Microstructure, e.g. "BCC+Laves+Sec."),
    phase (common vocabulary: B2/L12/Laves/Sec. → IM, "Other" → OTHER), phase_coarse (the source's
    BCC/FCC/other), single_phase (1 = microstructure exactly one of BCC/FCC/HCP, <NA> when not
    reported), element fractions, reference_id, processing, test_type (C/T), T_C (°C as given), T_K,
    YS_MPa, YS_GPa, UTS_MPa, HV, elongation, moduli, densities, doi, year, title, flags.
    """
    return _get("mpea", verify)


XYIELD_ELEMENTS = ("Al", "Cr", "Hf", "Mo", "Nb", "Ta", "Ti", "V", "W", "Zr")


def _class5(ys_gpa) -> np.ndarray:
    """The X-Yield 5-bin class: int(YS_GPa * 2), i.e. 0.5 GPa bins, the last bin open (≥ 2 GPa)."""
    return np.floor(np.asarray(ys_gpa, dtype=np.float64) * 2.0).astype(np.int64)


@_register("xyield_experimental")
def _build_xyield(verify: bool) -> pd.DataFrame:
    raw = _read_csv("xyield_exp240", "xyield_exp240.csv", verify)
    at = raw[list(XYIELD_ELEMENTS)].to_numpy(np.float64)
    # at.% rounded to 2 decimals sum to 99.99–100.14: renormalise to fractions
    frac = at / at.sum(axis=1, keepdims=True)
    parsed = _Parsed(frac, XYIELD_ELEMENTS, _formulas(frac, XYIELD_ELEMENTS), [""] * len(raw))
    meta = {"fold": raw["fold"].astype(np.int64), "n_elements": raw["n_elements"].astype(np.int64)}
    tail = {"T_C": raw["T_C"].to_numpy(np.float64), "T_K": raw["T_K"].to_numpy(np.float64),
            "YS_GPa": raw["YS_GPa"].to_numpy(np.float64), "YS_MPa": raw["YS_MPa"].to_numpy(np.float64),
            "class5": raw["class5"].astype(np.int64).to_numpy()}
    return _frame(meta, parsed, source="xyield_exp240", tail=tail, label=None)


def load_xyield_experimental(*, verify: bool | None = None) -> pd.DataFrame:
    """The 240 experimental X-Yield points: fold (0–9, the CV fold where the row is a test point),
    n_elements, formula, fractions over XYIELD_ELEMENTS (Al, Cr, Hf, Mo, Nb, Ta, Ti, V, W, Zr),
    T_C, T_K, YS_GPa, YS_MPa, class5 (= int(2·YS_GPa): 0.5 GPa bins, counts 51/84/73/31/1)."""
    return _get("xyield_experimental", verify)


def xyield_filter(mpea: pd.DataFrame | None = None, *, compression_only: bool = False) -> pd.DataFrame:
    """Rebuild the X-Yield experimental set from Borg 2020 (the documented filter).

    Keep rows with a yield strength and a test temperature, coarse phase ``BCC``
    (``phase_coarse``), and every element in XYIELD_ELEMENTS; group by (composition rounded to 0.1
    at.%, T) and average YS. `compression_only` keeps test_type "C" only. Returns one row per group:
    formula, XYIELD_ELEMENTS fractions, n_elements, T_C, T_K, YS_MPa, YS_GPa, class5, n_records.
    """
    df = load_mpea() if mpea is None else mpea
    need = {"phase_coarse", "YS_MPa", "T_C"}
    if not need <= set(df.columns):
        raise ValueError(f"xyield_filter needs a load_mpea() frame; missing columns {sorted(need - set(df.columns))}")
    cols = element_columns(df)
    outside = [c for c in cols if c not in XYIELD_ELEMENTS]
    frac_all = df[cols].to_numpy(np.float64)
    ok = df["YS_MPa"].notna().to_numpy() & df["T_C"].notna().to_numpy()
    ok &= (df["phase_coarse"].astype(str).str.strip() == "BCC").to_numpy()
    ok &= ~np.isnan(frac_all).any(axis=1)
    if outside:
        ok &= (df[outside].fillna(1.0).to_numpy() == 0).all(axis=1)
    if compression_only:
        ok &= (df["test_type"].astype(str).str.strip() == "C").to_numpy()
    sub = df.loc[ok]
    frac = np.zeros((len(sub), len(XYIELD_ELEMENTS)))
    for j, e in enumerate(XYIELD_ELEMENTS):
        if e in sub.columns:
            frac[:, j] = sub[e].to_numpy(np.float64)
    keys = _composition_keys(frac)
    g = pd.DataFrame({"key": keys, "T_C": sub["T_C"].to_numpy(np.float64),
                      "YS_MPa": sub["YS_MPa"].to_numpy(np.float64)})
    for j, e in enumerate(XYIELD_ELEMENTS):
        g[e] = frac[:, j]
    agg = {"YS_MPa": "mean", **{e: "mean" for e in XYIELD_ELEMENTS}}
    grouped = g.groupby(["key", "T_C"], sort=False).agg(agg)
    counts = g.groupby(["key", "T_C"], sort=False).size()
    out_frac = grouped[list(XYIELD_ELEMENTS)].to_numpy(np.float64)
    out_frac = out_frac / out_frac.sum(axis=1, keepdims=True)
    out = pd.DataFrame({"formula": _formulas(out_frac, XYIELD_ELEMENTS)})
    for j, e in enumerate(XYIELD_ELEMENTS):
        out[e] = out_frac[:, j]
    out["n_elements"] = (out_frac > 0).sum(axis=1).astype(np.int64)
    t_c = grouped.index.get_level_values("T_C").to_numpy(np.float64)
    out["T_C"] = t_c
    out["T_K"] = t_c + KELVIN_OFFSET
    out["YS_MPa"] = grouped["YS_MPa"].to_numpy(np.float64)
    out["YS_GPa"] = out["YS_MPa"] / 1000.0
    out["class5"] = _class5(out["YS_GPa"])
    out["n_records"] = counts.to_numpy(np.int64)
    out["source"] = "borg2020/xyield_filter"
    out.attrs["elements"] = list(XYIELD_ELEMENTS)
    return out


def _phase_frame(meta: dict, strings: pd.Series, phase_raw: pd.Series, source, *, tail=None, cleaning=None,
                 parsed: _Parsed | None = None, phase: pd.Series | None = None, raw_strings=None) -> pd.DataFrame:
    """`strings` are parsed; `raw_strings` (default `strings`) are what the source wrote."""
    parsed = _parse_strings(strings) if parsed is None else parsed
    phase = phase_raw.map(normalize_phase) if phase is None else phase
    raw_strings = strings if raw_strings is None else pd.Series(raw_strings)
    m = dict(meta)
    m.update({"formula_raw": raw_strings.astype(str).str.strip().to_numpy(), "phase_raw": phase_raw.to_numpy(), "phase": phase.to_numpy(),
              "single_phase": _single_phase_from(phase).to_numpy()})
    t = dict(tail or {})
    if cleaning is not None:
        t["cleaning"] = cleaning
    return _frame(m, parsed, source=source, tail=t)


# Group formulas the grammar cannot read as meant (checked against the source's own fractions).
_FORMULA_REPAIRS = {
    # top level sums to 100.2, so the grammar multiplies the group (C 0.02 %); Machaka's fraction
    # columns give C = 2.2/100.2: the group subscript is its share
    "(Fe40Mn40Co10Cr10)98C2.2": ("Fe39.2Mn39.2Co9.8Cr9.8C2.2", "group subscript read as its at.% share"),
    # its twin in Machaka is '(FeCoNi)86-Al7Ti7' (fractions Al 0.07, Ti 0.07): the second group's
    # subscript is per element
    "(FeCoNi)86(AlTi)7": ("(FeCoNi)86Al7Ti7", "'(AlTi)7' read as Al7Ti7 like its twin (FeCoNi)86-Al7Ti7"),
}
_BARE_GROUP = re.compile(r"\(([^()]*)\)(?![\d.])")


def _fill_group_balance(f: str) -> str:
    """'Sr20Ca20Yb20(Li0.55Mg0.45)Zn20': the other amounts are at.% summing to 80, so the group
    without a subscript is the 20 % balance (its molar twin SrCaYb(Li0.55Mg0.45)Zn says the same).
    Without this the group would count as 1 part in 81."""
    m = list(_BARE_GROUP.finditer(f))
    if len(m) != 1:
        return f
    rest = f[: m[0].start()] + f[m[0].end():]
    try:
        total = sum(_comp.parse_amounts(rest).values())
    except ValueError:
        return f
    if not (50.0 < total <= 99.0):
        return f
    return f"{f[: m[0].end()]}{100.0 - total:g}{f[m[0].end():]}"


def _clean_strings(s: pd.Series) -> tuple[pd.Series, list]:
    """Whitespace (incl. NBSP/tabs) removed and leading-zero typos fixed; returns notes per row."""
    out, notes = [], []
    for v in s.astype(str):
        w = re.sub(r"\s+", "", v.replace("\xa0", " "))
        note = []
        h = re.sub(r"(?<=\d)-(?=[A-Z(])", "", w)  # '(FeCoNi)86-Al7Ti7': hyphen used as a separator
        if h != w:
            note.append(f"hyphen separator removed ({w} -> {h})")
        f = _fix_leading_zero(h)
        if f != h:
            note.append(f"leading-zero amount read as decimal ({h} -> {f})")
        if f in _FORMULA_REPAIRS:
            f2, why = _FORMULA_REPAIRS[f]
            note.append(f"{why} ({f} -> {f2})")
            f = f2
        g = _fill_group_balance(f)
        if g != f:
            note.append(f"group without subscript in an at.% formula takes the balance ({f} -> {g})")
            f = g
        if re.search(r"(?<=[A-Za-z])0(?![.\d])", f):
            note.append("zero amount dropped")
        out.append(f)
        notes.append("; ".join(note))
    return pd.Series(out, index=s.index), notes


@_register("singh2023")
def _build_singh(verify: bool) -> pd.DataFrame:
    raw = _read_csv("singh2023_via_peivaste", "singh_sheet_1033.csv", verify)
    strings, notes = _clean_strings(raw["Alloy_repaired"])
    notes = [("; ".join(x for x in (n, "AlLIMgSnZn -> AlLiMgSnZn") if x)) if a != r else n
             for n, a, r in zip(notes, raw["Alloy"].astype(str), raw["Alloy_repaired"].astype(str))]
    return _phase_frame({"xlsx_row": raw["xlsx_row"].astype(np.int64).to_numpy()}, strings, raw["Phase"],
                        "singh2023", cleaning=notes, raw_strings=raw["Alloy_repaired"])


def load_singh2023(*, verify: bool | None = None) -> pd.DataFrame:
    """The 'Swati Singh' phase sheet (likely Singh et al. 2023), 1033 rows, 800 compositions.

    ``phase`` in the common vocabulary (BCC 375, IM 262, FCC 205, FCC+BCC 140, FCC+IM 50, BCC+IM 1);
    ``single_phase`` = exactly BCC or FCC (580 rows). Formulas from the repaired column, whitespace
    removed. Duplicates (232 rows) and conflicting labels are kept and flagged.
    """
    return _get("singh2023", verify)


def _read_machaka(path: Path) -> pd.DataFrame:
    """Read the Machaka CSV, repairing its 9 records that were exported as one quoted field."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    header = [h.strip() for h in rows[0]]
    records, repaired = [], []
    for r in rows[1:]:
        if not any(x.strip() for x in r):
            continue  # blank trailing lines
        was_quoted = False
        if len([x for x in r if x.strip()]) == 1 and "," in r[0]:
            # the whole line was one quoted field (its inner quotes doubled): parse the field again
            r = next(csv.reader(io.StringIO(r[0])))
            was_quoted = True
        r = (r + [""] * len(header))[: len(header)]
        records.append(r)
        repaired.append(was_quoted)
    df = pd.DataFrame(records, columns=header)
    df = df.loc[:, [c for c in df.columns if c]]
    df["_repaired_quoting"] = repaired
    return df


MACHAKA_FRACTION_COLUMNS = ("Al", "Co", "Cr", "Fe", "Ni", "Cu", "Mn", "Ti", "V", "Nb", "Mo", "Zr", "Hf", "Ta", "W",
                            "C", "Mg", "Zn", "Si", "Re", "N", "Sc", "Li", "Sn", "Be")


@_register("machaka2021")
def _build_machaka(verify: bool) -> pd.DataFrame:
    raw = _read_machaka(fetch("machaka2021_dib", "HEA_Phase_DataSet_v1d.csv", verify=verify))
    strings, notes = _clean_strings(raw["Alloy"])
    base = strings.str.contains("–|—", regex=True)  # 'Co–33Cr–9W–0.35N–0.01C': base-element notation
    parsed = _parse_strings(strings.where(~base, ""))
    src_frac = raw[list(MACHAKA_FRACTION_COLUMNS)].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    col = {e: j for j, e in enumerate(parsed.elements)}
    extra = [e for e in MACHAKA_FRACTION_COLUMNS if e not in col]
    if extra and base.any():
        els = tuple(sorted(set(parsed.elements) | {e for e in extra if np.nansum(src_frac[base.to_numpy(), MACHAKA_FRACTION_COLUMNS.index(e)]) > 0},
                           key=lambda e: _Z[e]))
        parsed = _parse_strings(strings.where(~base, ""), elements=els)
        col = {e: j for j, e in enumerate(parsed.elements)}
    frac = parsed.fractions
    err = list(parsed.error)
    for i in np.flatnonzero(base.to_numpy()):
        # the fraction columns are the only composition given; PROVENANCE: "use with caution" (likely wt%)
        row = np.zeros(len(parsed.elements))
        for j, e in enumerate(MACHAKA_FRACTION_COLUMNS):
            v = src_frac[i, j]
            if v > 0:
                row[col[e]] = v
        frac[i] = row / row.sum()
        err[i] = ""
        notes[i] = "; ".join(x for x in (notes[i], "base-element notation (probably wt%): composition from the "
                                                   "source's fraction columns") if x)
    for i in np.flatnonzero(raw["_repaired_quoting"].to_numpy()):
        notes[i] = "; ".join(x for x in (notes[i], "record was one quoted CSV field: re-split") if x)
    parsed = _Parsed(frac, parsed.elements, _formulas(frac, parsed.elements), err)
    ms = raw["Microstructure"].replace("", np.nan)
    multi = raw["Multiphase"].str.strip().replace("", np.nan)
    phase = ms.map(normalize_phase)
    # Microstructure "BCC" also holds dual (D) / multiple (M) BCC records and one 'Im' (B2) record
    # (PROVENANCE): encode them as two phases of that lattice / with an IM, so that single_phase
    # ("exactly one solid solution") equals the source's Multiphase == 'S' wherever it is given.
    for i in range(len(raw)):
        p, m = phase.iat[i], multi.iat[i]
        if p in _SS and m in ("D", "M"):
            phase.iat[i] = f"{p}+{p}"
        elif p is not None and m == "Im" and "IM" not in p.split("+"):
            phase.iat[i] = normalize_phase(p + "+IM")
    meta = {"alloy_id": raw["Alloy ID"].to_numpy(), "multiphase": multi.to_numpy(),
            "im_structure": raw["IM_Structure"].replace("", np.nan).to_numpy(),
            "phases_source": raw["Phases"].replace("", np.nan).to_numpy(),
            "microstructure_text": raw["Microstructure_"].replace("", np.nan).to_numpy()}
    tail = {"synthesis_route": raw["Sythesis_Route"].replace("", np.nan).to_numpy(),
            "reference": raw["References"].replace("", np.nan).to_numpy()}
    for c in ("Hot-Cold_Working", "Homogenization_Temp", "Homogenization_Time", "Annealing_Temp",
              "Annealing_Time_(min)", "Quenching", "HPR"):
        tail[c.lower().replace("-", "_").replace("(", "").replace(")", "")] = raw[c].replace("", np.nan).to_numpy()
    return _phase_frame(meta, strings, ms, "machaka2021", tail=tail, cleaning=notes, parsed=parsed, phase=phase,
                        raw_strings=raw["Alloy"])


def load_machaka2021(*, verify: bool | None = None) -> pd.DataFrame:
    """Machaka et al. 2021 phase data with processing: 1360 records.

    PROVENANCE counts 1351 because 9 records were exported as one quoted CSV field; they are re-split
    here (``cleaning`` says so). ``phase`` from the normalised Microstructure (Im → IM), with dual /
    multiple same-lattice records ("D"/"M") written "BCC+BCC"; ``single_phase`` = exactly one
    solid solution, equal to the source's ``multiphase == "S"`` wherever that is given. Compositions
    are parsed from the formula (the fraction columns disagree with it in ~69 records), except the
    base-element (likely wt%) notation `Co–33Cr–9W–…`, taken from the fraction columns and noted.
    """
    return _get("machaka2021", verify)


@_register("gao2017")
def _build_gao(verify: bool) -> pd.DataFrame:
    raw = _read_csv("gao2017_feng2021", "gao_hea_355.csv", verify)
    strings = raw["composition_at_pct"].astype(str).str.strip()
    nominal = raw["nominal_formula"].astype(str)
    notes = [""] * len(raw)
    strings = strings.copy()
    for i, nom in enumerate(nominal):
        w = re.sub(r"\s+", "", nom)
        fixed = _fix_leading_zero(w)
        if fixed != nom.strip():
            # The at.% string inherited the typo: 'Ti025' was read as Ti25 and 'Ti7. 5' as Ti7 (its
            # at.% says Ti 7.04 where the nominal Al40(…)7.5 sums to 100). Use the repaired nominal.
            strings.iat[i] = fixed
            notes[i] = f"typo in the source's nominal formula {nom!r}: composition from {fixed}"
    phase_map = {"bcc": "BCC", "fcc": "FCC", "hcp": "HCP", "amor": "AM", "multi": "MULTI"}
    unknown = sorted(set(raw["phase"].astype(str)) - set(phase_map))
    if unknown:
        raise ValueError(f"gao_hea_355.csv: unknown phase labels {unknown}")
    phase = raw["phase"].astype(str).map(phase_map)
    meta = {"idx": raw["idx"].astype(np.int64).to_numpy(), "nominal_formula": nominal.to_numpy(),
            "ref_in_source": raw["ref_in_source"].to_numpy()}
    return _phase_frame(meta, strings, raw["phase"], "gao2017", cleaning=notes, phase=phase)


def load_gao2017(*, verify: bool | None = None) -> pd.DataFrame:
    """The 355-alloy Gao table used by Feng et al. 2021: phase MULTI 217 / AM 59 / BCC 41 / FCC 24 /
    HCP 14 (MULTI = multi-phase, constituents not given); single_phase = BCC/FCC/HCP (79).
    Compositions from the at.% strings, except the two whose nominal formula has a typo that the
    at.% string inherited (`Ti025` → Ti0.25, `Ti7. 5` → Ti7.5); ``cleaning`` notes them."""
    return _get("gao2017", verify)


@_register("peivaste2023")
def _build_peivaste(verify: bool) -> pd.DataFrame:
    raw = _read_csv("peivaste2023_compilation", "Dataset_HEAs_all_sheets_long.csv", verify)
    strings, notes = _clean_strings(raw["Alloy_repaired"])
    changed = (raw["Alloy"].astype(str) != raw["Alloy_repaired"].astype(str)).to_numpy()
    for i in np.flatnonzero(changed):
        notes[i] = "; ".join(x for x in (notes[i], f"b2->BCC corruption repaired ({raw['Alloy'].iat[i]!s} -> "
                                                   f"{raw['Alloy_repaired'].iat[i]!s})") if x)
    sheet = raw["source_sheet"].astype(str)
    meta = {"sheet": sheet.to_numpy(), "xlsx_row": raw["xlsx_row"].astype(np.int64).to_numpy()}
    return _phase_frame(meta, strings, raw["Phase"], ("peivaste2023/" + sheet).to_numpy(), cleaning=notes,
                        raw_strings=raw["Alloy_repaired"])


def load_peivaste2023(*, verify: bool | None = None) -> pd.DataFrame:
    """Peivaste's 22-sheet compilation stacked: 10431 rows (``sheet``, ``xlsx_row``), formulas from the
    b2→BCC-repaired column (noted in ``cleaning``), group totals parsed with the group-total
    convention, phase labels mapped to the common vocabulary. Rows whose formula does not parse keep
    their reason in ``parse_error``."""
    return _get("peivaste2023", verify)


# ---------------------------------------------------------------------------------------------
def describe(name: str, *, verify: bool | None = None) -> dict:
    """Summary of a dataset for `hea-fast datasets show`: metadata, rows, columns, label balance,
    parse errors, duplicates and conflicts, and the files with their paths."""
    info = _resolve(name)
    df = load(info.name, verify=verify)
    balance = {}
    for lab in info.labels:
        if lab not in df.columns:
            continue
        s = df[lab]
        if s.dtype.kind == "f" and s.nunique() > 20:
            balance[lab] = {"count": int(s.notna().sum()), "min": float(s.min()), "median": float(s.median()),
                            "max": float(s.max())}
        else:
            vc = s.value_counts(dropna=False)
            if s.dtype.kind in "iuf" or str(s.dtype) == "Int64":
                vc = vc.sort_index()
            vc.index = ["<missing>" if pd.isna(k) else k for k in vc.index]
            balance[lab] = {str(k): int(v) for k, v in vc.items()}
    home = data_home()
    return {
        "name": info.name,
        "description": info.description,
        "rows": len(df),
        "columns": list(df.columns),
        "elements": element_columns(df),
        "label_balance": balance,
        "parse_errors": int((df["parse_error"] != "").sum()) if "parse_error" in df.columns else 0,
        "duplicates": int(df["duplicate"].sum()) if "duplicate" in df.columns else 0,
        "label_conflict_rows": int(df["label_conflict"].sum()) if "label_conflict" in df.columns else 0,
        "source": info.source,
        "license": info.license,
        "files": [str(home / info.folder / f) for f in info.files],
    }
