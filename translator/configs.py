"""Presets: how big a translator to build, and how to train it (``--config NAME``).

    tiny    seconds on a CPU; for tests and a first look; does not learn the whole grammar
    small   the default: a few minutes on a 2-core CPU to test BLEU >= 99
    base    wider and deeper (d_model 128, 3 + 3 layers): better still, best on a GPU
    paper   the paper's base model (d_model 512, 8 heads, 6 + 6 layers, d_ff 2048): for a GPU

Every preset trains as the paper does (section 5): Adam with betas (0.9, 0.98) and
eps 1e-9, the learning rate warmed up over ``warmup_steps`` and then decayed as
1/sqrt(step) (``lr_factor`` scales the paper's formula), label smoothing 0.1,
dropout, and batches of about ``batch_tokens`` target tokens of similar length.
Gradients are clipped to a global norm of ``clip_norm``, which the paper does not
need with its large batches but which steadies a small model's first steps.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Config:
    name: str
    d_model: int
    nhead: int
    num_encoder_layers: int
    num_decoder_layers: int
    dim_feedforward: int
    dropout: float
    epochs: int
    batch_tokens: int
    warmup_steps: int
    lr_factor: float
    label_smoothing: float = 0.1
    clip_norm: float = 1.0
    norm_first: bool = False
    max_source_tokens: int = 64   # longer sentences are refused, with a message saying so
    fixed_shapes: bool | None = None  # batches in a few fixed shapes (data.py); None: on a GPU only

    def model_arguments(self) -> dict[str, Any]:
        """What Seq2SeqTransformer takes, besides the vocabulary sizes."""
        return dict(d_model=self.d_model, nhead=self.nhead, num_encoder_layers=self.num_encoder_layers,
                    num_decoder_layers=self.num_decoder_layers, dim_feedforward=self.dim_feedforward,
                    dropout=self.dropout, norm_first=self.norm_first)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Config":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def with_overrides(self, **overrides: Any) -> "Config":
        """The preset with the command line's --epochs, --batch-tokens... where given."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


PRESETS = {
    "tiny": Config("tiny", d_model=32, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                   dim_feedforward=64, dropout=0.0, epochs=1, batch_tokens=512, warmup_steps=100,
                   lr_factor=1.0),
    "small": Config("small", d_model=64, nhead=4, num_encoder_layers=2, num_decoder_layers=2,
                    dim_feedforward=256, dropout=0.1, epochs=4, batch_tokens=1024, warmup_steps=400,
                    lr_factor=1.0),
    "base": Config("base", d_model=128, nhead=4, num_encoder_layers=3, num_decoder_layers=3,
                   dim_feedforward=512, dropout=0.1, epochs=10, batch_tokens=2048, warmup_steps=800,
                   lr_factor=1.0),
    "paper": Config("paper", d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
                    dim_feedforward=2048, dropout=0.1, epochs=10, batch_tokens=4096, warmup_steps=4000,
                    lr_factor=1.0),
}
DEFAULT = "small"
