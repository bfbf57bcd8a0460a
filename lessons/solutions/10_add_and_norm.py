"""Lesson 10's exercise: LayerNorm's γ and β, predicted from x̂ and then run.

(How these files work: lessons/README.md, "How a lesson is built".)
"""
import numpy as np

import tinytensor as tt


def gamma_beta(ns):
    scaled_norm = tt.nn.LayerNorm(3)
    with tt.no_grad():
        scaled_norm.weight.copy_(tt.tensor([2.0, 2.0, 2.0]))
        scaled_norm.bias.copy_(tt.tensor([1.0, 1.0, 1.0]))
    ns["scaled_norm"] = scaled_norm
    ns["predicted"] = [2 * v + 1 for v in ns["by_hand"]]   # γ x̂ + β with the x̂ computed by hand


def check_gamma_beta(scaled_norm, predicted, by_hand):
    assert isinstance(scaled_norm, tt.nn.LayerNorm), "scaled_norm must be a tt.nn.LayerNorm(3)"
    expected = [2 * v + 1 for v in by_hand]
    assert np.allclose(np.asarray(predicted, dtype=float), expected, atol=1e-3), \
        f"predicted = {predicted}: y = γ x̂ + β, with γ = 2, β = 1 and x̂ = (-1.2247, 0, 1.2247)"
    outputs = [scaled_norm(tt.tensor(v)).detach().cpu().numpy()
               for v in ([1.0, 3.0, 5.0], [10.0, 30.0, 50.0], [101.0, 103.0, 105.0])]
    assert np.allclose(outputs[0], predicted, atol=1e-3), \
        f"scaled_norm gives {outputs[0].round(4)} for (1, 3, 5), not your prediction: are γ = 2 and β = 1 set?"
    assert all(np.allclose(out, outputs[0], atol=1e-4) for out in outputs[1:])
    return (f"y = 2 x̂ + 1 = {np.round(expected, 4)} for all three: scaling x by 10 or shifting it by 100 "
            f"changes neither its x̂ (up to ε) nor the output")


def wrong_gamma_beta(ns):
    """γ and β swapped: 1 x̂ + 2."""
    scaled_norm = tt.nn.LayerNorm(3)
    with tt.no_grad():
        scaled_norm.bias.copy_(tt.tensor([2.0, 2.0, 2.0]))
    ns["scaled_norm"] = scaled_norm
    ns["predicted"] = [v + 2 for v in ns["by_hand"]]
