"""Semi-supervised disentangled VAE (SSVAE) of Zeng, Khan & Post, arXiv 2409.06740 (Kingma M2 model).

Variables, per alloy:
  x ∈ R^30   composition over the 30 most frequent d-VAE elements, in at.% (sums to 100)
  e ∈ R^8    engineered descriptors (the ``zeng2024`` set of `hea_fast.features`: k [GPa], vm
             [cm³/mol], tm [K], vac [e/atom], delta [%], delta_chi [Pauling], delta_s_mix
             [J/(mol K)], delta_h_mix [kJ/mol])
  φ ∈ {0,1}  single phase (1) or not (0)
  z ∈ R^d    style latent (d = 2 by default)

Generative model p(φ) = Bernoulli(r) (r = `prior_single`, default 0.5 as the authors), p(z) = N(0, I),
p(x | φ, z) = Multinomial(softmax(decoder([z, φ]))).

Non-integer counts: x holds at.% values such as 33.33. The Multinomial log-density is evaluated in its
Gamma-function form  log Γ(Σx+1) − Σ log Γ(x_i+1) + Σ x_i log p_i  (exactly what
``torch.distributions.Multinomial.log_prob`` computes; its ``total_count`` is not used in log_prob).
The normaliser does not depend on the network, so gradients are those of the cross-entropy
Σ x_i log p_i with fractional counts. The authors passed ``total_count=101`` only so that the support
check (Σx ≤ total) passes for float sums slightly above 100; we switch validation off instead.

Recognition model q(φ | e) = Bernoulli(encoder_y(e)), q(z | x, φ) = N(encoder_z([x, φ])).
Networks (hidden sizes (100, 100), Softplus, configurable):
  encoder_y  8 → 100 → 100 → 1, sigmoid        (classifier head)
  encoder_z  31 → 100 → 100 → (loc: 2, scale: exp(·): 2), input [x (at.%, Fe…Sc order), φ]
  decoder    3 → 100 → 100 → 30, softmax         input [z1, z2, φ]

Feature scaling: by default encoder_y standardises e with the mean and population std of the
training rows (labelled + unlabelled; stored as buffers, so the model always takes raw
descriptors). ``legacy=True`` reproduces the authors exactly: raw, unscaled descriptors (tm ≈ 2000 K
next to delta ≈ 5 %), and φ *sampled* in the guide (score-function gradient, Pyro Trace_ELBO)
instead of summed out by enumeration (TraceEnum_ELBO, Pyro's ss_vae_M2 recipe).

Saved models: `load_model(name)` — ``"default"`` (alias ``"ssvae"``; also what ``load_model()``
returns) is the project-trained model bundled with the package (``hea_fast/data/models/ssvae_default``,
trained on the MIT-licensed Yan 2021 data by ``scripts/train_default_ssvae.py``; its TRAINING.json
holds the data hashes and held-out metrics); ``"released"`` is the authors' released weights
(``ssvae_released_state_dict.npz`` in the data home, no licence, so not bundled), loaded by
`load_released` (`convert_released_state` documents the key mapping); anything else is a directory
written by `SSVAE.save`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

# isort: off
import hea_fast.ssvae._requires  # noqa: F401  (names the [ssvae] extra when a package is missing)
import torch
import torch.nn as nn
# isort: on

from hea_fast._io import atomic_path, atomic_write_json, read_json
from hea_fast.datasets import DVAE_ELEMENTS, DVAE_FEATURES, data_home, fetch

#: The 30 most frequent elements of the d-VAE set, in the authors' column order (Fe…Sc).
TOP30 = DVAE_ELEMENTS
#: The 8 engineered descriptors (hea_fast.features set "zeng2024"), in the authors' order.
FEATURES = DVAE_FEATURES
#: The authors' released weights in the data home (models/ssvae.model of cengc13/d_vae_hea as npz).
RELEASED_WEIGHTS = ("dvae_hea_zeng2024_model", "ssvae_released_state_dict.npz")
#: The bundled project-trained model (scripts/train_default_ssvae.py).
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "data" / "models" / "ssvae_default"
#: Names `load_model` accepts besides a directory: name -> what it loads.
MODEL_NAMES = {"default": "bundled model trained on Yan 2021 (MIT)", "ssvae": "alias of 'default'",
               "released": "the authors' weights from the data home"}

FORMAT_VERSION = 1


class SSVAEConfigError(ValueError):
    """Invalid SSVAE configuration or saved-model directory."""


@dataclass
class SSVAEConfig:
    elements: tuple = TOP30
    features: tuple = FEATURES
    z_dim: int = 2
    hidden: tuple = (100, 100)
    prior_single: float = 0.5  # r in p(φ) = Bernoulli(r); the authors' 0.5
    alpha: float = 10.0  # classification-loss multiplier (authors' train.py default)
    gamma: float = 1.0  # weight of the labelled terms (ELBO + α·BCE)
    legacy: bool = False  # authors' behaviour: raw features, sampled φ
    feature_mean: list = field(default_factory=list)  # empty = no standardisation
    feature_std: list = field(default_factory=list)

    def __post_init__(self):
        self.elements = tuple(self.elements)
        self.features = tuple(self.features)
        self.hidden = tuple(int(h) for h in self.hidden)
        if self.z_dim < 1:
            raise SSVAEConfigError(f"z_dim must be >= 1, got {self.z_dim}")
        if not self.hidden or min(self.hidden) < 1:
            raise SSVAEConfigError(f"hidden sizes must be positive, got {self.hidden}")
        if not 0.0 < self.prior_single < 1.0:
            raise SSVAEConfigError(f"prior_single must be in (0, 1), got {self.prior_single}")
        if len(set(self.elements)) != len(self.elements):
            raise SSVAEConfigError(f"repeated element names in {self.elements}")
        if self.feature_mean and len(self.feature_mean) != len(self.features):
            raise SSVAEConfigError(
                f"feature_mean has {len(self.feature_mean)} values for {len(self.features)} features"
            )
        if self.feature_std and any(s <= 0 for s in self.feature_std):
            raise SSVAEConfigError(f"feature_std must be positive, got {self.feature_std}")

    def to_json(self) -> dict:
        d = asdict(self)
        d["elements"] = list(self.elements)
        d["features"] = list(self.features)
        d["hidden"] = list(self.hidden)
        return d


class MLP(nn.Module):
    """Linear/Softplus stack (the authors' Pyro-example MLP without its concat/list wrappers)."""

    def __init__(self, sizes):
        super().__init__()
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        for lin in self.linears:  # authors' init: N(0, 0.001) weights and biases
            nn.init.normal_(lin.weight, 0.0, 1e-3)
            nn.init.normal_(lin.bias, 0.0, 1e-3)

    def forward(self, h, last_activation=True):
        n = len(self.linears)
        for i, lin in enumerate(self.linears):
            h = lin(h)
            if i < n - 1 or last_activation:
                h = nn.functional.softplus(h)
        return h


def _cat(*ts):
    """Concatenate along the last dim, broadcasting leading dims (enumerated φ has shape (2,1,1))."""
    shape = torch.broadcast_shapes(*[t.shape[:-1] for t in ts])
    return torch.cat([t.expand(shape + t.shape[-1:]) for t in ts], dim=-1)


class SSVAE(nn.Module):
    """The SSVAE: Pyro `model`/`guide` plus plain forward helpers used by training and design."""

    def __init__(self, config: SSVAEConfig | None = None, **kwargs):
        super().__init__()
        if config is None:
            config = SSVAEConfig(**kwargs)
        elif kwargs:
            raise TypeError("pass either config or keyword arguments")
        self.config = config
        h = list(config.hidden)
        E, F, d = len(config.elements), len(config.features), config.z_dim
        self.encoder_y = MLP([F] + h + [1])
        self.encoder_z = MLP([E + 1] + h)
        self.z_loc = nn.Linear(h[-1], d)
        self.z_scale = nn.Linear(h[-1], d)
        for lin in (self.z_loc, self.z_scale):
            nn.init.normal_(lin.weight, 0.0, 1e-3)
            nn.init.normal_(lin.bias, 0.0, 1e-3)
        self.decoder = MLP([d + 1] + h + [E])
        mean = config.feature_mean or [0.0] * F
        std = config.feature_std or [1.0] * F
        self.register_buffer("feature_mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("feature_std", torch.tensor(std, dtype=torch.float32))

    # ---- deterministic pieces ---------------------------------------------------------------
    def _scaled(self, e):
        if not self.config.feature_mean:  # legacy / unscaled: feed raw values (no float ops)
            return e
        return (e - self.feature_mean) / self.feature_std

    def classifier_logit(self, e: torch.Tensor) -> torch.Tensor:
        """Logit of q(φ=1 | e); e raw descriptors (…, 8)."""
        return self.encoder_y(self._scaled(e), last_activation=False)

    def classifier_prob(self, e: torch.Tensor) -> torch.Tensor:
        """q(φ=1 | e) = P(single phase), shape (…, 1)."""
        return torch.sigmoid(self.classifier_logit(e))

    def encode_z(self, x: torch.Tensor, y: torch.Tensor):
        """q(z | x, φ): x at.% (…, 30), y (…, 1) -> (loc, scale)."""
        h = self.encoder_z(_cat(x, y))
        return self.z_loc(h), torch.exp(self.z_scale(h))

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.decoder(_cat(z, y), last_activation=False)

    def decode(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean composition fractions softmax(decoder([z, φ])), shape (…, 30)."""
        return torch.softmax(self.decode_logits(z, y), dim=-1)

    # ---- Pyro model and guide ----------------------------------------------------------------
    def model(self, xs, es=None, ys=None):
        """p(x, φ, z); xs at.% (B, 30), ys (B, 1) float or None (unlabelled)."""
        import pyro
        import pyro.distributions as dist

        pyro.module("ssvae", self)
        B = xs.shape[0]
        infer = {} if self.config.legacy else {"enumerate": "parallel"}
        with pyro.plate("data", B):
            zs = pyro.sample(
                "z", dist.Normal(xs.new_zeros(B, self.config.z_dim), xs.new_ones(B, self.config.z_dim)).to_event(1)
            )
            # φ has batch shape (B,) (no event dim) so that Pyro can enumerate it: the enumerated value
            # has shape (2, 1), unsqueezed to (2, 1, 1) and broadcast against z (B, d) in `_cat`.
            prior = xs.new_full((B,), self.config.prior_single)
            obs = None if ys is None else ys.reshape(B)
            ys = pyro.sample("y", dist.Bernoulli(probs=prior), obs=obs, infer=infer).unsqueeze(-1)
            probs = self.decode(zs, ys)
            # Gamma-form log-density; total_count only feeds the (disabled) support check.
            pyro.sample("x", dist.Multinomial(total_count=101, probs=probs, validate_args=False), obs=xs)

    def guide(self, xs, es=None, ys=None):
        """q(φ | e) q(z | x, φ); φ enumerated (default) or sampled (legacy) when ys is None."""
        import pyro
        import pyro.distributions as dist

        B = xs.shape[0]
        with pyro.plate("data", B):
            if ys is None:
                infer = {} if self.config.legacy else {"enumerate": "parallel"}
                ys = pyro.sample("y", dist.Bernoulli(probs=self.classifier_prob(es)[..., 0]), infer=infer)
                ys = ys.unsqueeze(-1)
            loc, scale = self.encode_z(xs, ys)
            pyro.sample("z", dist.Normal(loc, scale).to_event(1))

    def model_classify(self, xs, es, ys):
        """α · log q(φ_obs | e): the auxiliary classification term of Kingma et al. (2014)."""
        import pyro
        import pyro.distributions as dist

        pyro.module("ssvae", self)
        with pyro.plate("data", xs.shape[0]):
            with pyro.poutine.scale(scale=self.config.alpha):
                pyro.sample("y_aux", dist.Bernoulli(probs=self.classifier_prob(es)).to_event(1), obs=ys)

    def guide_classify(self, xs, es, ys):
        pass

    # ---- save / load ---------------------------------------------------------------------------
    def save(self, directory) -> Path:
        """Write ``config.json`` + ``model.safetensors`` (no pickle) atomically into `directory`."""
        from safetensors.torch import save_file

        directory = Path(directory)
        meta = {"format": "hea_fast.ssvae", "version": FORMAT_VERSION, "config": self.config.to_json()}
        extra = getattr(self, "training_info", None)
        if extra:
            meta["training"] = extra
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        with atomic_path(directory / "model.safetensors") as tmp:
            save_file(state, str(tmp))
        atomic_write_json(directory / "config.json", meta, indent=2)
        return directory

    @classmethod
    def load(cls, directory) -> "SSVAE":
        from safetensors.torch import load_file

        directory = Path(directory)
        meta = _read_config(directory / "config.json")
        try:
            model = cls(SSVAEConfig(**meta["config"]))
        except (TypeError, ValueError) as exc:
            raise SSVAEConfigError(f"{directory / 'config.json'}: invalid model config: {exc}") from None
        weights = directory / "model.safetensors"
        if not weights.is_file():
            raise FileNotFoundError(f"{weights} not found: the saved SSVAE in {directory} has no weights")
        try:
            state = load_file(str(weights))
        except Exception as exc:  # safetensors raises its own error type for a corrupt file
            raise SSVAEConfigError(f"{weights}: not a readable safetensors file ({exc})") from None
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:  # missing/unexpected keys or shapes that do not match config.json
            raise SSVAEConfigError(f"{weights} does not match {directory / 'config.json'}: {exc}") from None
        model.training_info = meta.get("training")
        return model.eval()


def _read_config(path: Path) -> dict:
    """The checked ``config.json`` of a saved SSVAE; errors name the file."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: not a saved SSVAE directory")
    meta = read_json(path, what="SSVAE config")
    if not isinstance(meta, dict) or meta.get("format") != "hea_fast.ssvae":
        fmt = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise SSVAEConfigError(f"{path}: format {fmt!r} is not 'hea_fast.ssvae'")
    if meta.get("version") != FORMAT_VERSION:
        raise SSVAEConfigError(f"{path}: version {meta.get('version')} (this code reads {FORMAT_VERSION})")
    return meta


# ---- authors' released weights ------------------------------------------------------------------
#: Released key (Pyro-example MLP: index 0 is a concat module, odd indices the Linear layers,
#: encoder_z's output is a ListOut of [Linear→identity, Linear→Exp]) -> our key.
_RELEASED_KEYS = {
    "encoder_y.sequential_mlp.1": "encoder_y.linears.0",
    "encoder_y.sequential_mlp.3": "encoder_y.linears.1",
    "encoder_y.sequential_mlp.5": "encoder_y.linears.2",
    "encoder_z.sequential_mlp.1": "encoder_z.linears.0",
    "encoder_z.sequential_mlp.3": "encoder_z.linears.1",
    "encoder_z.sequential_mlp.5.0.0": "z_loc",
    "encoder_z.sequential_mlp.5.1.0": "z_scale",
    "decoder.sequential_mlp.1": "decoder.linears.0",
    "decoder.sequential_mlp.3": "decoder.linears.1",
    "decoder.sequential_mlp.5": "decoder.linears.2",
}


def convert_released_state(arrays) -> dict[str, torch.Tensor]:
    """Map the authors' state_dict (name -> array; nn.Linear weights are (out, in) in both) to ours.

    Every one of the 20 released arrays must be used exactly once; shapes are checked on load.
    """
    out = {}
    for key, value in arrays.items():
        prefix, _, leaf = key.rpartition(".")
        if prefix not in _RELEASED_KEYS or leaf not in ("weight", "bias"):
            raise SSVAEConfigError(f"unexpected key {key!r} in released state dict")
        out[f"{_RELEASED_KEYS[prefix]}.{leaf}"] = torch.from_numpy(np.array(value, dtype=np.float32))
    missing = {f"{v}.{leaf}" for v in _RELEASED_KEYS.values() for leaf in ("weight", "bias")} - set(out)
    if missing:
        raise SSVAEConfigError(f"released state dict lacks {sorted(missing)}")
    return out


def released_weights_path() -> Path:
    """Where the released weights sit in the data home (`hea_fast.datasets.data_home`)."""
    return data_home().joinpath(*RELEASED_WEIGHTS)


def load_released(path=None) -> SSVAE:
    """The authors' released model (test accuracy 0.877) in our architecture, ``legacy=True``.

    path: an npz of the released state dict; default the data home's copy, fetched (and checksummed)
    through `hea_fast.datasets.fetch`, which raises DatasetNotFoundError saying where to put it.
    """
    if path is None:
        path = fetch(*RELEASED_WEIGHTS)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: put the d-VAE released weights (repo cengc13/d_vae_hea, models/ssvae.model "
            "converted to npz) there, or leave path unset to use the data home's copy"
        )
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    hidden = (arrays["encoder_y.sequential_mlp.1.weight"].shape[0], arrays["encoder_y.sequential_mlp.3.weight"].shape[0])
    z_dim = arrays["encoder_z.sequential_mlp.5.0.0.weight"].shape[0]
    model = SSVAE(SSVAEConfig(z_dim=z_dim, hidden=hidden, legacy=True))
    state = convert_released_state(arrays)
    state["feature_mean"] = model.feature_mean
    state["feature_std"] = model.feature_std
    model.load_state_dict(state, strict=True)
    return model.eval()


def load_model(spec=None) -> SSVAE:
    """A saved SSVAE: ``"default"`` (or None, or the alias ``"ssvae"``) = the bundled model trained on
    Yan 2021 (`DEFAULT_MODEL_DIR`); ``"released"`` = the authors' weights from the data home
    (`load_released`, DatasetNotFoundError naming the file when absent); otherwise a directory
    written by `SSVAE.save` / ``hea-fast ssvae train``. Errors name the path and what is wrong."""
    name = "default" if spec is None else str(spec)
    if name == "released":
        return load_released()
    if name in ("default", "ssvae"):
        if not (DEFAULT_MODEL_DIR / "config.json").is_file():
            raise FileNotFoundError(
                f"the bundled default SSVAE is missing: {DEFAULT_MODEL_DIR / 'config.json'} not found (a broken "
                "installation; reinstall hea_fast, or regenerate it with scripts/train_default_ssvae.py)"
            )
        return SSVAE.load(DEFAULT_MODEL_DIR)
    path = Path(spec)
    if not path.is_dir():
        raise FileNotFoundError(
            f"SSVAE model {str(spec)!r}: {path} is not a directory written by SSVAE.save "
            f"(or use one of the names {', '.join(repr(n) for n in MODEL_NAMES)})"
        )
    return SSVAE.load(path)
