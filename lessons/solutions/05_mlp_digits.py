"""Lesson 5's exercise: the weight update written by hand, w <- w - lr * dL/dw.

(How these files work: lessons/README.md, "How a lesson is built".)
"""
import numpy as np

import tinytensor as tt
from tinytensor import optim

LR = 0.1


def gradient_descent(ns):
    def gradient_descent_step(model, lr):
        with tt.no_grad():
            for p in model.parameters():
                p -= lr * p.grad

    ns["gradient_descent_step"] = gradient_descent_step


def check_gradient_descent(gradient_descent_step, make_model, loss_fn, train, train_x, train_y,
                           test_images, test_labels, dev):
    x0, y0 = tt.tensor(train_x[:32], device=dev), tt.tensor(train_y[:32], device=dev)
    tt.manual_seed(1)
    mine = make_model()
    tt.manual_seed(1)
    reference = make_model()
    before = {name: p.detach().cpu().numpy().copy() for name, p in mine.named_parameters()}
    loss_fn(mine(x0), y0).backward()
    gradient_descent_step(mine, LR)
    reference_sgd = optim.SGD(reference.parameters(), lr=LR)
    loss_fn(reference(x0), y0).backward()
    reference_sgd.step()
    for (name, p), q in zip(mine.named_parameters(), reference.parameters()):
        assert not np.allclose(p.detach().cpu().numpy(), before[name], rtol=0, atol=1e-6), \
            f"{name} did not move: update every parameter, in place"
        assert np.allclose(p.detach().cpu().numpy(), q.detach().cpu().numpy(), rtol=0, atol=1e-7), \
            f"{name}: one step of yours is not one step of optim.SGD(lr={LR}): w - lr * w.grad?"
    tt.manual_seed(1)
    model = make_model()
    losses, _ = train(model, lambda: gradient_descent_step(model, LR), epochs=5)
    with tt.no_grad():
        accuracy = (model(test_images).argmax(axis=1) == test_labels).float().mean().item()
    assert accuracy > 0.9, f"after 5 epochs of your gradient descent the test accuracy is {accuracy:.1%}"
    return (f"one step is optim.SGD's; 5 epochs of it: loss {np.mean(losses[:45]):.3f} -> "
            f"{np.mean(losses[-45:]):.3f}, test accuracy {accuracy:.1%}")


def wrong_gradient_descent(ns):
    """A step up the gradient: w + lr * dL/dw."""
    def gradient_descent_step(model, lr):
        with tt.no_grad():
            for p in model.parameters():
                p += lr * p.grad

    ns["gradient_descent_step"] = gradient_descent_step
