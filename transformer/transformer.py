"""The Transformer: an encoder stack and a decoder stack (section 3, Figure 1), as torch.nn.Transformer.

    memory = Encoder(src)               N = 6 layers: the source sentence, read all at once
    output = Decoder(tgt, memory)       N = 6 layers: the target so far, and the source

The defaults are the paper's base model: d_model 512, 8 heads, 6 + 6 layers,
d_ff 2048, dropout 0.1. As in PyTorch, each stack ends with a LayerNorm of its
own (``encoder.norm``, ``decoder.norm``), and every weight matrix starts from
Xavier's uniform initialization. Inputs and outputs are vectors, (S, B, d_model)
and (T, B, d_model), or batch first with ``batch_first=True``; turning tokens
into vectors and vectors into words is seq2seq.py's job.
"""
from __future__ import annotations

from typing import Any, Callable

from tinytensor import Tensor, nn
from tinytensor.nn import init

from . import masks
from .decoder import TransformerDecoder, TransformerDecoderLayer
from .encoder import TransformerEncoder, TransformerEncoderLayer


class Transformer(nn.Module):
    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: "str | Callable[[Tensor], Tensor]" = "relu", custom_encoder: Any = None,
                 custom_decoder: Any = None, layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True) -> None:
        super().__init__()
        settings = dict(d_model=d_model, nhead=nhead, dim_feedforward=dim_feedforward, dropout=dropout,
                        activation=activation, layer_norm_eps=layer_norm_eps, batch_first=batch_first,
                        norm_first=norm_first, bias=bias)
        self.encoder = custom_encoder or TransformerEncoder(
            TransformerEncoderLayer(**settings), num_encoder_layers,
            nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias))
        self.decoder = custom_decoder or TransformerDecoder(
            TransformerDecoderLayer(**settings), num_decoder_layers,
            nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias))
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    def forward(self, src: Tensor, tgt: Tensor, src_mask: Any = None, tgt_mask: Any = None,
                memory_mask: Any = None, src_key_padding_mask: Any = None,
                tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None,
                src_is_causal: bool | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        self._check(src, tgt)
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> Tensor:
        """The float causal mask (sz, sz): -inf above the diagonal, 0 on and below it."""
        return masks.square_subsequent_mask(sz, device=device, dtype=dtype)

    def _check(self, src: Tensor, tgt: Tensor) -> None:
        if src.ndim == 3 and tgt.ndim == 3:
            axis = 0 if self.batch_first else 1
            if src.shape[axis] != tgt.shape[axis]:
                raise ValueError(f"Transformer: src {src.shape} and tgt {tgt.shape} have different "
                                 f"batch sizes (dimension {axis}, batch_first={self.batch_first})")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ValueError(f"Transformer: the feature number of src {src.shape} and tgt {tgt.shape} "
                             f"must equal d_model={self.d_model}")
