"""BERT and GPT from the same layers: they learn in seconds, and their pieces do what they say.

The two examples of examples/bert_and_gpt.py train on the toy corpus's English
for a few seconds; GPT must then continue "... a cup" with "of", and BERT fill
in the final punctuation from the first word (a question's "?") and "is" in a
location sentence, with their loss far below where it started.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import tinytensor as tt
import transformer as T
from transformer.gpt import sample

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "bert_and_gpt.py"


def example():
    spec = importlib.util.spec_from_file_location("bert_and_gpt", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpt_learns_to_write_toy_english(capsys):
    result = example().main(["gpt", "--steps", "150", "--device", "cpu"])
    assert result["last_loss"] < result["first_loss"] / 3
    assert result["written"]["Tomorrow he will drink a cup"].startswith("Tomorrow he will drink a cup of ")
    assert "gpt: loss" in capsys.readouterr().out


def test_bert_learns_to_fill_in_blanks():
    result = example().main(["bert", "--steps", "200", "--device", "cpu"])
    assert result["last_loss"] < result["first_loss"] / 2
    assert result["filled"]["Do you have a cat <mask>"] == "?"       # read from the sentence's first word
    assert result["filled"]["Xiaoming has a cat <mask>"] == "."
    assert result["filled"]["The cat <mask> on the table ."] == "is"


@pytest.mark.parametrize("model", ["gpt", "bert"])
def test_the_examples_run_on_every_device(model, device):
    """A short run: the learning itself is the two tests above; here, that nothing is device-bound."""
    result = example().main([model, "--steps", "12", "--sentences", "500", "--device", device])
    assert result["last_loss"] < result["first_loss"]
    assert len(result["written" if model == "gpt" else "filled"]) > 2


def test_gpt_generation_with_the_cache_equals_recomputing_everything(device):
    tt.manual_seed(0)
    model = T.GPT(20, d_model=16, nhead=2, num_layers=2, dim_feedforward=32).double().to(device)
    prompt = tt.tensor([[3, 4, 5], [6, 7, 8]], device=device)
    cached = model.generate(prompt, max_new_tokens=6, temperature=0.0)
    ids = prompt
    with tt.no_grad():
        model.eval()
        for _ in range(6):
            ids = tt.cat([ids, model(ids)[:, -1].argmax(-1).unsqueeze(1)], 1)
    np.testing.assert_array_equal(cached.numpy(), ids.numpy())
    assert cached.shape == (2, 9)


def test_gpt_and_bert_are_the_same_layers_with_different_masks():
    gpt, bert = T.GPT(10, d_model=8, nhead=2, num_layers=1), T.BERT(10, d_model=8, nhead=2, num_layers=1)
    assert type(gpt.layers.layers[0]) is type(bert.layers.layers[0]) is T.TransformerEncoderLayer
    assert gpt.layers.layers[0].norm_first and not bert.layers.layers[0].norm_first
    # GPT's position 0 does not change when later tokens do; BERT's does
    a, b = tt.tensor([[3, 4, 5]]), tt.tensor([[3, 9, 9]])
    gpt.eval(), bert.eval()
    np.testing.assert_allclose(gpt(a).numpy()[0, 0], gpt(b).numpy()[0, 0], rtol=1e-6)
    assert np.abs(bert(a).numpy()[0, 0] - bert(b).numpy()[0, 0]).max() > 1e-4


def test_mask_tokens_chooses_15_percent_and_replaces_80_10_10():
    tt.manual_seed(0)
    ids = tt.tensor(np.random.default_rng(0).integers(4, 50, (400, 50)))
    ids.array[:, -5:] = 0  # padding is never chosen
    inputs, labels = T.mask_tokens(ids, mask_id=3, vocab_size=50, special_ids=[0])
    chosen = labels.numpy() != -100
    assert not chosen[:, -5:].any()
    assert abs(chosen[:, :-5].mean() - 0.15) < 0.01
    np.testing.assert_array_equal(labels.numpy()[chosen], ids.numpy()[chosen])
    masked = inputs.numpy()[chosen] == 3
    kept = inputs.numpy()[chosen] == ids.numpy()[chosen]
    assert abs(masked.mean() - 0.8) < 0.02 and abs(kept.mean() - 0.1) < 0.02   # (random may hit the same id)
    np.testing.assert_array_equal(inputs.numpy()[~chosen], ids.numpy()[~chosen])


def test_sampling_follows_the_softmax_with_temperature_and_top_k():
    tt.manual_seed(0)
    logits = tt.tensor([[2.0, 1.0, 0.0, -1.0]]).expand(20000, 4)
    draws = sample(logits).numpy()
    expected = np.exp([2.0, 1.0, 0.0, -1.0]) / np.exp([2.0, 1.0, 0.0, -1.0]).sum()
    np.testing.assert_allclose(np.bincount(draws, minlength=4) / len(draws), expected, atol=0.01)
    hot = np.bincount(sample(logits, temperature=2.0).numpy(), minlength=4) / 20000
    assert hot[3] > expected[3] + 0.03                                       # flatter
    assert set(sample(logits, top_k=2).numpy().tolist()) == {0, 1}
    assert (sample(logits, temperature=0.0).numpy() == 0).all()
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        sample(logits, temperature=-1.0)
