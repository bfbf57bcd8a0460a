"""Heat maps of attention: Chinese tokens drawn as glyphs, never boxes; the input forms; clear errors.

matplotlib's Agg renderer warns "Glyph ... missing from font(s) ..." (a UserWarning)
for every character its font cannot draw, so drawing with warnings turned into
errors fails on the first box.
"""
import sys
import warnings

import numpy as np
import pytest

import tinytensor as tt
from visualize import plot_attention
from visualize.fonts import font_for
from visualize.gradient_flow import new_figure

matplotlib = pytest.importorskip("matplotlib")
from matplotlib import font_manager  # noqa: E402

SOURCE = list("我有一只猫。")
TARGET = list("面包自行车？")


def softmax_rows(*shape, seed=0):
    scores = np.random.default_rng(seed).normal(size=shape)
    e = np.exp(scores - scores.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def panels(figure):
    return [ax for ax in figure.axes if ax.images]  # the colour bar has no image


def fonts_used(figure):
    """The font file of every tick label and of the figure's titles, as matplotlib resolves it to draw."""
    texts = [t for ax in panels(figure) for t in ax.get_xticklabels() + ax.get_yticklabels()]
    texts += figure.texts  # the title, and the axes' captions
    return {t.get_text(): str(font_manager.findfont(t.get_fontproperties())) for t in texts if t.get_text()}


def test_chinese_tokens_are_drawn_as_glyphs_not_boxes(tmp_path):
    weights = softmax_rows(2, len(TARGET), len(SOURCE))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" would fail the test here
        figure = plot_attention(weights, SOURCE, TARGET, title="我有一只猫。")
        figure.canvas.draw()
        path = plot_attention(weights, SOURCE, TARGET, tmp_path / "attention.png", title="面包自行车？")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    used = fonts_used(figure)
    assert set(SOURCE + TARGET) <= set(used)
    for text, font in used.items():  # and the font's own charmap has every character
        charmap = font_manager.get_font(font).get_charmap()
        assert all(ord(c) in charmap for c in text), (text, font)


def test_the_missing_glyph_warning_is_what_catches_a_box():
    """Without the fix, DejaVu Sans draws boxes and says so: the check above can fail."""
    figure, canvas = new_figure()
    figure.add_subplot().set_title("猫", family="DejaVu Sans")
    with pytest.warns(UserWarning, match="missing from font"):
        canvas.draw()


def test_the_pip_font_is_registered_and_chosen_for_chinese():
    font = font_for("我有一只猫。面包自行车？")
    assert font.get_family() == ["Noto Sans SC"]
    assert "Noto Sans SC" in {entry.name for entry in font_manager.fontManager.ttflist}


def without_pip_font(monkeypatch, keep_installed=False):
    """As on a machine without pylopdf-fonts-zh-cn (and, unless keep_installed, no Chinese font)."""
    monkeypatch.setitem(sys.modules, "pylopdf_fonts_zh_cn", None)  # import raises ImportError
    if not keep_installed:
        kept = [e for e in font_manager.fontManager.ttflist if "pylopdf_fonts_zh_cn" not in e.fname]
        monkeypatch.setattr(font_manager.fontManager, "ttflist", kept)


def test_without_the_pip_font_latin_tokens_still_draw(monkeypatch):
    without_pip_font(monkeypatch)
    assert font_for("<bos> k c a j").get_family() == ["DejaVu Sans"]


def test_without_the_pip_font_an_installed_chinese_font_is_found(monkeypatch):
    font_for("猫")  # registers Noto Sans SC: it now stands for a font installed on the system
    without_pip_font(monkeypatch, keep_installed=True)
    assert font_for("猫").get_family() == ["Noto Sans SC"]


def test_without_any_chinese_font_the_error_says_what_to_install(monkeypatch):
    without_pip_font(monkeypatch)
    with pytest.raises(ImportError, match="pip install pylopdf-fonts-zh-cn"):
        plot_attention(softmax_rows(1, 2, 2), ["猫", "狗"], ["a", "b"])


def test_one_layer_draws_one_row_of_heads():
    figure = plot_attention(softmax_rows(3, 4, 5), list("abcde"), list("wxyz"))
    assert len(panels(figure)) == 3
    assert [ax.get_title() for ax in panels(figure)] == ["head 0", "head 1", "head 2"]
    assert [t.get_text() for t in panels(figure)[0].get_yticklabels()] == list("wxyz")


def test_layers_of_a_tensor_draw_a_grid_and_max_heads_cuts_it():
    weights = tt.tensor(softmax_rows(2, 4, 3, 3).astype(np.float32))
    assert len(panels(plot_attention(weights, list("abc"), list("xyz")))) == 2 * 4
    figure = plot_attention(weights, list("abc"), list("xyz"), max_heads=2, layer_names=["enc", "dec"])
    assert len(panels(figure)) == 2 * 2
    assert [ax.get_ylabel() for ax in panels(figure)[::2]] == ["enc", "dec"]


def test_a_dict_of_layers_names_the_rows():
    weights = {"layers.0.self_attn": softmax_rows(1, 2, 3, 3),      # a batch of one, as recorded
               "layers.1.self_attn": softmax_rows(2, 3, 3, seed=1)}
    figure = plot_attention(weights, list("abc"), list("abc"))
    assert len(panels(figure)) == 4
    assert [ax.get_ylabel() for ax in panels(figure)[::2]] == list(weights)


def test_the_figure_is_written_in_the_format_of_the_suffix(tmp_path):
    path = plot_attention(softmax_rows(1, 2, 2), list("ab"), list("猫狗"), tmp_path / "a.svg")
    assert path == tmp_path / "a.svg" and path.read_text().lstrip().startswith("<?xml")


def test_token_counts_that_do_not_match_the_weights_are_a_clear_error():
    with pytest.raises(ValueError, match=r"\(heads, T, S\) = \(2, 3, 4\).*got 3 y_tokens.*and 5 x_tokens"):
        plot_attention(softmax_rows(2, 3, 4), list("abcde"), list("xyz"))
    with pytest.raises(ValueError, match=r"got 4 y_tokens \(queries\) and 3 x_tokens"):
        plot_attention(softmax_rows(2, 3, 4), list("xyz"), list("abcd"))  # x and y swapped


@pytest.mark.parametrize("weights, message", [
    (softmax_rows(3, 4), r"\(heads, T, S\) or \(layers, heads, T, S\), got shape \(3, 4\)"),
    ({"a": softmax_rows(2, 3, 3), "b": softmax_rows(2, 3, 4)}, "different shapes"),
    ({"a": softmax_rows(2, 2, 3, 3)}, r"pick one sentence of the batch"),
    (np.full((2, 3, 3), 2.5), r"lie in \[0, 1\].*not the scores"),
    ({}, "empty"),
])
def test_bad_weights_are_a_clear_error(weights, message):
    with pytest.raises(ValueError, match=message):
        plot_attention(weights, list("abc"), list("abc"))
