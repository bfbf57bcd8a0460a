"""Lesson 12's exercise: a pre-norm encoder layer, x + Sublayer(LayerNorm(x)), from the lesson's pieces.

    pre_norm(ns)          the solution: sets pre_norm_encoder_layer in the lesson's namespace
    check_pre_norm(...)   the check: against TransformerEncoderLayer(norm_first=True) with the same weights
    wrong_pre_norm(ns)    a likely mistake: the norm applied to the sum, LayerNorm(x + Sublayer(x)), as post-norm
"""
import tinytensor as tt
from transformer import TransformerEncoderLayer


def pre_norm(ns):
    multi_head_attention, feed_forward, layer_norm = ns["multi_head_attention"], ns["feed_forward"], ns["layer_norm"]

    def pre_norm_encoder_layer(x, p):
        def self_attention(x):
            return multi_head_attention(x, x, p["self_attn"])[0]

        x = x + self_attention(layer_norm(x, p["norm1"]))
        return x + feed_forward(layer_norm(x, p["norm2"]), p["ffn"])

    ns["pre_norm_encoder_layer"] = pre_norm_encoder_layer


def check_pre_norm(pre_norm_encoder_layer, encoder_params, layer_state, X_src, d_model, h, d_ff):
    assert callable(pre_norm_encoder_layer), \
        f"pre_norm_encoder_layer must be a function (x, p) -> x, got {type(pre_norm_encoder_layer).__name__}"
    p = encoder_params[0]
    layer = TransformerEncoderLayer(d_model, h, d_ff, dropout=0.0, batch_first=True, norm_first=True).double().eval()
    layer.load_state_dict(layer_state(p))
    with tt.no_grad():
        theirs = layer(X_src)
    ours = pre_norm_encoder_layer(X_src, p)
    assert tuple(ours.shape) == tuple(theirs.shape), \
        f"the layer must keep the shape {tuple(X_src.shape)} (n × d_model), got {tuple(ours.shape)}"
    difference = (ours - theirs).abs().max().item()
    assert difference < 1e-12, \
        (f"your layer differs from TransformerEncoderLayer(norm_first=True) by up to {difference:.3g}: "
         f"pre-norm normalises the sublayer's input, x + Sublayer(LayerNorm(x)), and adds nothing after")
    return f"your pre-norm layer equals TransformerEncoderLayer(norm_first=True) to {difference:.1e}"


def wrong_pre_norm(ns):
    """LayerNorm of the sum, as post-norm: the arrangement the exercise asks to change."""
    multi_head_attention, feed_forward, layer_norm = ns["multi_head_attention"], ns["feed_forward"], ns["layer_norm"]

    def pre_norm_encoder_layer(x, p):
        x = layer_norm(x + multi_head_attention(x, x, p["self_attn"])[0], p["norm1"])
        return layer_norm(x + feed_forward(x, p["ffn"]), p["norm2"])

    ns["pre_norm_encoder_layer"] = pre_norm_encoder_layer
