"""BERT: the encoder alone, a model that reads a whole sentence at once (Devlin et al., 2019).

GPT reads left to right, so each word sees only the words before it. BERT's
layers have no causal mask: every word sees the whole sentence, both sides.
That cannot be trained to predict the next word (it would see it), so BERT
learns by filling in blanks, the masked language model: 15% of the tokens are
chosen, and the model must give back the original token at each of them.
Of the chosen tokens 80% are replaced by [MASK], 10% by a random token and 10%
kept, so the model cannot rely on [MASK] marking exactly the words to fix.

    ids (B, T) -> TokenEmbedding + PositionalEncoding -> N encoder layers -> Linear -> logits (B, T, V)

The layers are the same ``TransformerEncoderLayer`` as the translator's encoder
and GPT's blocks (post-norm, as in BERT, with GELU in its tanh form, as BERT's). The loss, cross-entropy at
the chosen positions only (labels -100 elsewhere), is computed outside the model.
"""
from __future__ import annotations

from typing import Sequence

import tinytensor as tt
from tinytensor import Tensor, nn

from . import masks
from .embedding import PositionalEncoding, TokenEmbedding
from .encoder import TransformerEncoder, TransformerEncoderLayer
from .layer import GELU_TANH

IGNORE = -100  # the label of a position that is not scored (cross_entropy's ignore_index)


class BERT(nn.Module):
    def __init__(self, vocab_size: int, d_model: int = 128, nhead: int = 4, num_layers: int = 2,
                 dim_feedforward: int = 512, dropout: float = 0.1, pad_id: int = 0) -> None:
        super().__init__()
        self.pad_id = pad_id
        self.embed = TokenEmbedding(vocab_size, d_model, padding_idx=pad_id)
        self.positions = PositionalEncoding(d_model, dropout)
        layer = TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, GELU_TANH, batch_first=True)
        self.layers = TransformerEncoder(layer, num_layers)
        self.mlm_head = nn.Linear(d_model, vocab_size)
        self.mlm_head.weight = self.embed.embedding.weight  # tied, as in BERT

    def forward(self, ids: Tensor) -> Tensor:
        """Logits (B, T, V): at every position, scores for the token that belongs there."""
        x = self.positions(self.embed(ids))
        return self.mlm_head(self.layers(x, src_key_padding_mask=masks.padding_mask(ids, self.pad_id)))


def mask_tokens(ids: Tensor, *, mask_id: int, vocab_size: int, special_ids: Sequence[int] = (),
                probability: float = 0.15) -> tuple[Tensor, Tensor]:
    """BERT's masking: (inputs, labels). ``labels`` holds the original id where a token was
    chosen and -100 elsewhere; ``special_ids`` (padding, [MASK]...) are never chosen."""
    special = tt.zeros(ids.shape, dtype=tt.bool_, device=ids.device)
    for token in special_ids:
        special = special | (ids == token)
    chosen = (tt.rand(*ids.shape, device=ids.device) < probability) & ~special
    labels = tt.where(chosen, ids, IGNORE)
    roll = tt.rand(*ids.shape, device=ids.device)
    random_ids = tt.randint(vocab_size, ids.shape, device=ids.device)
    inputs = tt.where(chosen & (roll < 0.8), mask_id, ids)                    # 80%: [MASK]
    inputs = tt.where(chosen & (roll >= 0.8) & (roll < 0.9), random_ids, inputs)  # 10%: random
    return inputs, labels                                                      # 10%: kept
