"""A translation model: token ids in, next-token scores out (Figure 1 of the paper, whole).

    src (B, S) ids -> TokenEmbedding + PositionalEncoding -> Encoder          -> memory (B, S, d)
    tgt_in (B, T) ids -> TokenEmbedding + PositionalEncoding -> Decoder(memory) -> Linear -> logits (B, T, V)

Training feeds the target shifted right, "<bos> I have a cat ." as ``tgt_in``,
and asks for "I have a cat . <eos>" (teacher forcing): the logits at position t
are scores over the target vocabulary for token t + 1. The loss (label-smoothed
cross-entropy, ignoring padding) is computed outside the model.

The masks are built here from ``pad_id``: the source's pad tokens are hidden
from the encoder's self-attention and from the decoder's cross-attention, and
the causal mask hides each target position's future. Target padding needs no
mask of its own: it comes after the real tokens, which the causal mask already
keeps from seeing it, and the loss ignores the padded positions.

``tie_embeddings`` (section 3.4) makes the output layer (the "generator") use
the target embedding's matrix: the score of word w is the dot product of the
decoder's output with w's own embedding.

``encode`` and ``decode`` are the two halves, for decoding one token at a time
(decoding.py): the source is encoded once, then ``decode`` runs for every new
token, with ``offset`` = the position of its first input token when a
key-value cache (kv_cache.py) holds the earlier ones.
"""
from __future__ import annotations

from typing import Any

from tinytensor import Tensor, nn
from tinytensor.ops.indexing import index_error_context

from . import masks
from .embedding import PositionalEncoding, TokenEmbedding
from .transformer import Transformer


class Seq2SeqTransformer(nn.Module):
    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, d_model: int = 512, nhead: int = 8,
                 num_encoder_layers: int = 6, num_decoder_layers: int = 6, dim_feedforward: int = 2048,
                 dropout: float = 0.1, pad_id: int = 0, tie_embeddings: bool = True,
                 norm_first: bool = False, activation: str = "relu") -> None:
        super().__init__()
        self.pad_id = pad_id
        self.src_embed = TokenEmbedding(src_vocab_size, d_model, padding_idx=pad_id)
        self.tgt_embed = TokenEmbedding(tgt_vocab_size, d_model, padding_idx=pad_id)
        self.positions = PositionalEncoding(d_model, dropout)
        self.transformer = Transformer(d_model, nhead, num_encoder_layers, num_decoder_layers,
                                       dim_feedforward, dropout, activation, batch_first=True,
                                       norm_first=norm_first)
        self.generator = nn.Linear(d_model, tgt_vocab_size)
        if tie_embeddings:
            self.generator.weight = self.tgt_embed.embedding.weight  # one matrix, two uses

    def forward(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        """Logits (B, T, tgt_vocab_size) for the token after each position of ``tgt_in``."""
        return self.decode(tgt_in, self.encode(src), masks.padding_mask(src, self.pad_id))

    def encode(self, src: Tensor) -> Tensor:
        """The memory (B, S, d_model): the source sentences, read by the encoder."""
        x = self.positions(self._embed(self.src_embed, src, "src"))
        return self.transformer.encoder(x, src_key_padding_mask=masks.padding_mask(src, self.pad_id))

    def decode(self, tgt_in: Tensor, memory: Tensor, memory_key_padding_mask: Any = None,
               offset: int = 0) -> Tensor:
        """Logits (B, T, V) for ``tgt_in`` (B, T) given the memory; ``memory_key_padding_mask``
        is the source's padding, (B, S), True at pad tokens."""
        y = self.positions(self._embed(self.tgt_embed, tgt_in, "tgt_in"), offset)
        causal = masks.decoder_mask(tgt_in.shape[1], offset, device=tgt_in.device)
        y = self.transformer.decoder(y, memory, tgt_mask=causal, memory_key_padding_mask=memory_key_padding_mask)
        return self.generator(y)

    def _embed(self, embedding: TokenEmbedding, ids: Any, name: str) -> Tensor:
        if not isinstance(ids, Tensor) or ids.ndim != 2:
            raise ValueError(f"{type(self).__name__}: {name} must be a (batch, length) tensor of token "
                             f"ids, got {getattr(ids, 'shape', type(ids).__name__)}")
        # A bad id raises at once on the CPU, at the next read on a GPU (the check does not make
        # the GPU wait); either way the message says which input held it, then which id it was.
        with index_error_context(f"{type(self).__name__}: {name} holds a token id outside its vocabulary: "):
            return embedding(ids)
