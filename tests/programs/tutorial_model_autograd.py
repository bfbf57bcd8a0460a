"""Building a network and automatic differentiation, in the manner of PyTorch's beginner tutorials.

A NeuralNetwork Module with Flatten and a Sequential stack, moved to the
accelerator; its layers taken apart one by one; its parameters by name. Then
autograd on a one-layer logistic model: grad_fn, backward, no_grad, detach,
and a vector-Jacobian product with retain_graph, accumulated and zeroed.
Written for PyTorch; run unchanged by tests/test_pytorch_programs.py.
"""
import torch
from torch import nn

device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
print(f"Using {device} device")
torch.manual_seed(0)


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(8 * 8, 32),
            nn.ReLU(),
            nn.Linear(32, 32),
            nn.ReLU(),
            nn.Linear(32, 10),
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


model = NeuralNetwork().to(device)
X = torch.rand(1, 8, 8, device=device)
logits = model(X)
pred_probab = nn.Softmax(dim=1)(logits)
y_pred = pred_probab.argmax(1)
print(f"Predicted class: {y_pred.tolist()}, probabilities sum to {pred_probab.sum().item():.4f}")

input_image = torch.rand(3, 8, 8)
flatten = nn.Flatten()
flat_image = flatten(input_image)
print("flattened:", tuple(flat_image.size()))
layer1 = nn.Linear(in_features=8 * 8, out_features=20)
hidden1 = layer1(flat_image)
print("hidden:", tuple(hidden1.size()))
hidden1 = nn.ReLU()(hidden1)
print("after ReLU, negatives left:", (hidden1 < 0).sum().item())
seq_modules = nn.Sequential(flatten, layer1, nn.ReLU(), nn.Linear(20, 10))
logits = seq_modules(input_image)
softmax = nn.Softmax(dim=1)
print("row sums:", [round(v, 4) for v in softmax(logits).sum(dim=1).tolist()])
first = model.linear_relu_stack[0]
print("first Linear of the model:", first.in_features, first.out_features)

for name, param in model.named_parameters():
    values = [round(v, 4) for v in param[:2].flatten().tolist()[:3]]
    print(f"Layer: {name} | Size: {tuple(param.size())} | Values : {values}")

dropout = nn.Dropout(p=0.5)
dropped = dropout(torch.ones(1000))
print("dropout keeps the scale:", sorted(set(dropped.tolist())),
      "eval is identity:", torch.equal(dropout.eval()(torch.ones(4)), torch.ones(4)))

# Automatic differentiation
x = torch.ones(5)
y = torch.zeros(3)
w = torch.randn(5, 3, requires_grad=True)
b = torch.randn(3, requires_grad=True)
z = torch.matmul(x, w) + b
loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
print("has a gradient function:", z.grad_fn is not None, loss.grad_fn is not None)
loss.backward()
print("w.grad:", [round(v, 4) for v in w.grad.flatten().tolist()])
print("b.grad:", [round(v, 4) for v in b.grad.tolist()])

z = torch.matmul(x, w) + b
print("requires grad:", z.requires_grad)
with torch.no_grad():
    z = torch.matmul(x, w) + b
print("under no_grad:", z.requires_grad)
z = torch.matmul(x, w) + b
z_det = z.detach()
print("detached:", z_det.requires_grad)

inp = torch.eye(4, 5, requires_grad=True)
out = (inp + 1).pow(2).t()
out.backward(torch.ones_like(out), retain_graph=True)
print(f"First call\n{inp.grad.tolist()}")
out.backward(torch.ones_like(out), retain_graph=True)
print(f"Second call\n{inp.grad.tolist()}")
inp.grad.zero_()
out.backward(torch.ones_like(out), retain_graph=True)
print(f"Call after zeroing gradients\n{inp.grad.tolist()}")
