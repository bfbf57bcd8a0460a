"""transformer: the model of "Attention Is All You Need" (Vaswani et al., 2017), built from tinytensor.

The paper's model alone, the middle of the project's layers: tinytensor/ (the engine) ->
transformer/ (the model) -> translator/ (the application) and visualize/ (the pictures).
It imports tinytensor and nothing above it; the toy translator that trains it on
Chinese -> English is translator/ (python -m translator).

Read beside the paper, in this order:

    attention.py            3.2.1  scaled dot-product attention, softmax(QK^T / sqrt(d_k) + mask) V
    masks.py                3.2.3  padding and causal masks: built here, applied in attention.py only
    multihead_attention.py  3.2.2  h heads, W_Q W_K W_V stacked in in_proj_weight, as PyTorch
    layer.py                3.1    sublayers, each in Add & Norm (pre- or post-norm); the feed-forward net
    encoder.py              3.1    self-attention + feed-forward, each in Add & Norm; the stack
    decoder.py              3.1    masked self-attention + cross-attention + feed-forward; the stack
    transformer.py          3      encoder + decoder, as torch.nn.Transformer
    embedding.py            3.4-5  token embedding * sqrt(d_model) + sinusoidal positions
    seq2seq.py              3      ids in, logits out: the whole translation model
    kv_cache.py             -      keys and values kept while decoding
    decoding.py             6.1    greedy and beam search
    bert.py, gpt.py         -      the same layers as encoder-only and decoder-only models

Every class with a PyTorch counterpart has its name, arguments and state_dict
keys, so weights move both ways: ``model.load_state_dict({k: tinytensor.tensor(v.numpy())
for k, v in torch_model.state_dict().items()})``.
"""
from .attention import attention_reference, scaled_dot_product_attention
from .bert import BERT, mask_tokens
from .decoder import TransformerDecoder, TransformerDecoderLayer
from .decoding import beam_search, greedy_decode
from .embedding import PositionalEncoding, TokenEmbedding, positional_encoding
from .encoder import TransformerEncoder, TransformerEncoderLayer
from .gpt import GPT
from .kv_cache import kv_cache, record_attention
from .masks import causal_mask, padding_mask
from .multihead_attention import MultiheadAttention
from .seq2seq import Seq2SeqTransformer
from .transformer import Transformer

__all__ = ["BERT", "GPT", "MultiheadAttention", "PositionalEncoding", "Seq2SeqTransformer",
           "TokenEmbedding", "Transformer", "TransformerDecoder", "TransformerDecoderLayer",
           "TransformerEncoder", "TransformerEncoderLayer", "attention_reference", "beam_search",
           "causal_mask", "greedy_decode", "kv_cache", "mask_tokens", "padding_mask",
           "positional_encoding", "record_attention", "scaled_dot_product_attention"]
