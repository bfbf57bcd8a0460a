"""GPT: the decoder alone, a language model that writes text left to right (Radford et al., 2018).

The encoder-decoder translates: the decoder writes, looking at what it has
written and at the source. Drop the source, and the decoder's layer loses its
cross-attention: what is left, masked self-attention and the feed-forward
network, is exactly an encoder layer run with a causal mask. So GPT is built
from the same ``TransformerEncoderLayer``; only the mask differs from BERT.

    ids (B, T) -> TokenEmbedding + PositionalEncoding -> N layers (causal) -> LayerNorm -> logits (B, T, V)

Trained to predict token t + 1 at every position t (next-token cross-entropy,
computed outside the model), it writes by ``generate``: feed the prompt, pick a
token from the last position's distribution, append it, repeat. The key-value
cache (kv_cache.py) makes each new token cost one position, not the whole text.
Layers are pre-norm (``norm_first=True``), as in GPT-2, with GELU in its tanh form, as GPT-2's.
"""
from __future__ import annotations

import tinytensor as tt
from tinytensor import Tensor, nn

from . import masks
from .decoding import evaluating
from .embedding import PositionalEncoding, TokenEmbedding
from .encoder import TransformerEncoder, TransformerEncoderLayer
from .kv_cache import kv_cache
from .layer import GELU_TANH


class GPT(nn.Module):
    def __init__(self, vocab_size: int, d_model: int = 128, nhead: int = 4, num_layers: int = 2,
                 dim_feedforward: int = 512, dropout: float = 0.1) -> None:
        super().__init__()
        self.embed = TokenEmbedding(vocab_size, d_model)
        self.positions = PositionalEncoding(d_model, dropout)
        layer = TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, GELU_TANH,
                                        batch_first=True, norm_first=True)
        self.layers = TransformerEncoder(layer, num_layers, nn.LayerNorm(d_model))
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)
        self.lm_head.weight = self.embed.embedding.weight  # tied, as in GPT-2

    def forward(self, ids: Tensor, offset: int = 0) -> Tensor:
        """Logits (B, T, V) for the token after each position; ``offset`` is the position of
        ids[:, 0] (nonzero only while ``generate`` feeds new tokens to the cache)."""
        x = self.positions(self.embed(ids), offset)
        causal = masks.decoder_mask(ids.shape[1], offset, device=ids.device)
        return self.lm_head(self.layers(x, mask=causal))

    @tt.no_grad()
    def generate(self, prompt: Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None) -> Tensor:
        """The prompt (B, T) followed by ``max_new_tokens`` sampled tokens: (B, T + max_new_tokens).

        ``temperature`` sharpens (< 1) or flattens (> 1) the distribution; 0 takes the most
        likely token every time. ``top_k`` samples among the k most likely tokens only.
        """
        if prompt.ndim != 2 or prompt.shape[1] == 0:
            raise ValueError(f"GPT.generate: prompt must be (batch, length >= 1) token ids, got "
                             f"shape {prompt.shape}")
        ids = prompt
        with evaluating(self), kv_cache(self):
            logits = self(prompt)[:, -1]                   # the whole prompt once: (B, V)
            for written in range(1, max_new_tokens + 1):
                token = sample(logits, temperature, top_k)  # (B,)
                ids = tt.cat([ids, token.unsqueeze(1)], 1)
                if written < max_new_tokens:               # the last token needs no scores after it
                    logits = self(token.unsqueeze(1), offset=ids.shape[1] - 1)[:, -1]
        return ids


def sample(logits: Tensor, temperature: float = 1.0, top_k: int | None = None) -> Tensor:
    """A token id per row of logits (B, V), drawn from softmax(logits / temperature).

    The Gumbel-max trick: argmax(logits / T + g), g = -log(-log(u)), u ~ U(0, 1), picks
    token i with probability exactly softmax(logits / T)_i, using only uniform noise.
    """
    if temperature < 0:
        raise ValueError(f"sample: temperature must be >= 0, got {temperature}")
    if temperature == 0:
        return logits.argmax(-1)
    scaled = logits / temperature
    if top_k is not None:
        kth = scaled.topk(min(top_k, scaled.shape[-1])).values[:, -1:]  # (B, 1)
        scaled = scaled.masked_fill(scaled < kth, float("-inf"))
    gumbel = -(-tt.rand(*scaled.shape, dtype=scaled.dtype, device=scaled.device).log()).log()
    return (scaled + gumbel).argmax(-1)
