"""Tensors, in the manner of PyTorch's beginner tutorial, then a tour of the everyday ops.

Making tensors (from data, from NumPy, like another, by shape), their
attributes, moving them to the accelerator, indexing and slicing, joining,
arithmetic with out=, in-place ops, the NumPy bridge that shares memory; then
the ops that teaching code reaches for (scatter, nonzero, sort, unique,
einsum, bmm, cumsum...) with the gradients of the differentiable ones.
Written for PyTorch; run unchanged by tests/test_pytorch_programs.py.
"""
import numpy as np
import torch

torch.manual_seed(0)
device = torch.device("cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu")
torch.set_default_device(device)
print("default device:", torch.get_default_device().type)
torch.backends.cudnn.deterministic = True
torch.backends.cudnn.benchmark = False

# Making tensors
data = [[1, 2], [3, 4]]
x_data = torch.tensor(data)
np_array = np.array(data)
x_np = torch.from_numpy(np_array)
x_ones = torch.ones_like(x_data)
x_rand = torch.rand_like(x_data, dtype=torch.float)
print("from data:", x_data.tolist(), "from numpy:", x_np.tolist(), "ones like:", x_ones.tolist())
print("random like:", [round(v, 4) for v in x_rand.flatten().tolist()])
shape = (2, 3,)
print("rand:", tuple(torch.rand(shape).shape), "ones:", torch.ones(shape).tolist(),
      "zeros:", torch.zeros(shape).tolist())

# Attributes
tensor = torch.rand(3, 4)
print(f"Shape of tensor: {tuple(tensor.shape)}")
print(f"Datatype is float32: {tensor.dtype == torch.float32}")
print(f"Device tensor is stored on: {tensor.device.type}")
if torch.accelerator.is_available():
    tensor = tensor.to(torch.accelerator.current_accelerator())

# Indexing and slicing
tensor = torch.ones(4, 4)
print(f"First row: {tensor[0].tolist()}")
print(f"First column: {tensor[:, 0].tolist()}")
print(f"Last column: {tensor[..., -1].tolist()}")
tensor[:, 1] = 0
print(tensor.tolist())
t1 = torch.cat([tensor, tensor, tensor], dim=1)
print("cat:", tuple(t1.shape), t1[0].tolist())

# Arithmetic, three ways each
y1 = tensor @ tensor.T
y2 = tensor.matmul(tensor.T)
y3 = torch.rand_like(y1)
torch.matmul(tensor, tensor.T, out=y3)
z1 = tensor * tensor
z2 = tensor.mul(tensor)
z3 = torch.rand_like(tensor)
torch.mul(tensor, tensor, out=z3)
print("matmul agree:", torch.equal(y1, y2), torch.equal(y1, y3),
      "mul agree:", torch.equal(z1, z2), torch.equal(z1, z3))
agg = tensor.sum()
agg_item = agg.item()
print(agg_item, type(agg_item).__name__)
print(f"sum as a tensor, formatted: {agg:.2f}")
tensor.add_(5)
print("after add_(5):", tensor[0].tolist())

# The NumPy bridge: the same memory on the CPU
t = torch.ones(5)
n = t.numpy()
t.add_(1)
print(f"t: {t.tolist()} n: {n.tolist()}")
n = np.ones(5)
t = torch.from_numpy(n)
np.add(n, 1, out=n)
print(f"t: {t.tolist()} n: {n.tolist()}")

# Legacy constructors and dtypes
legacy = torch.Tensor([1, 2])
print("torch.Tensor([1, 2]):", legacy.tolist(), legacy.dtype == torch.float32)
print("LongTensor:", torch.LongTensor([3, 1, 2]).dtype == torch.int64,
      "FloatTensor:", torch.FloatTensor([[0.5]]).dtype == torch.float32,
      "uint8:", torch.tensor([1, 0, 1]).type(torch.uint8).tolist(),
      torch.zeros(2, dtype=torch.uint8).dtype == torch.uint8)
print("new_zeros:", legacy.new_zeros(2, 3).tolist(), "new_ones:", legacy.new_ones(2).tolist(),
      "new_tensor:", legacy.new_tensor([7, 8]).dtype == torch.float32)

# Picking, placing and searching
src = torch.tensor([[0.1, 0.9, 0.3], [0.8, 0.05, 0.6]])
index = torch.tensor([[2], [0]])
print("scatter:", torch.zeros(2, 3).scatter(1, index, 1.0).tolist())
onehot = torch.zeros(2, 4).scatter_(1, torch.tensor([[3], [1]]), value=1)
print("scatter_ one-hot:", onehot.tolist())
placed = torch.zeros(3, 3).scatter_(0, torch.tensor([[0, 1, 2]]), torch.tensor([[5.0, 6.0, 7.0]]))
print("scatter_ src:", placed.tolist())
print("index_fill_:", torch.ones(3, 2).index_fill_(0, torch.tensor([0, 2]), -1.0).tolist())
print("nonzero:", torch.nonzero(src > 0.5).tolist(), (src > 0.5).nonzero().tolist())
values, order = torch.sort(torch.tensor([3.0, -1.0, 2.5, 0.0]), descending=True)
print("sort:", values.tolist(), order.tolist(), "argsort:", torch.tensor([3, 1, 2]).argsort().tolist())
uniq, counts = torch.unique(torch.tensor([2, 3, 2, 5, 3, 2]), return_counts=True)
print("unique:", uniq.tolist(), counts.tolist(), torch.tensor([4, 4, 1]).unique().tolist())
top = torch.topk(torch.tensor([0.1, 0.7, 0.2, 0.9]), 2)
print("topk:", top.values.tolist(), top.indices.tolist())
print("isnan:", torch.isnan(torch.tensor([1.0, float("nan")])).tolist(),
      "isinf:", torch.tensor([float("inf"), -1.0]).isinf().tolist())
print("where (method):", src.where(src > 0.5, torch.zeros_like(src)).tolist())
numbers = ["zero", "one", "two", "three"]
print("a 0-d tensor as an index:", numbers[torch.tensor(2)], list(range(torch.tensor(3))))
print("multinomial, one possible outcome:", torch.multinomial(torch.tensor([[0.0, 1.0, 0.0]]), 1).tolist())

# Differentiable ops, with their gradients
a = torch.tensor([[1.0, -2.0, 0.5], [0.25, 3.0, -1.5]], requires_grad=True)
b = torch.tensor([[0.5, 1.0], [-1.0, 2.0], [1.5, -0.5]], requires_grad=True)
batch = torch.arange(24.0).reshape(2, 3, 4).requires_grad_()
outputs = {
    "einsum": torch.einsum("ij,jk->ik", a, b),
    "einsum_trace": torch.einsum("ii", a @ b),
    "bmm": torch.bmm(batch, batch.transpose(1, 2)),
    "cumsum": torch.cumsum(a, dim=1),
    "prod": a.prod(dim=1),
    "sign": a.sign() * a,
    "rsqrt": torch.rsqrt(a.abs() + 1),
    "roll": torch.roll(a, shifts=1, dims=1) * torch.arange(3.0),
    "flip": torch.flip(a, dims=[0]) * torch.arange(6.0).reshape(2, 3),
    "diag": torch.diag(a @ b) * torch.tensor([1.0, 3.0]),
    "outer": torch.outer(a[0], b[:, 1]),
    "sort_values": torch.sort(a, dim=1).values * torch.tensor([1.0, 2.0, 3.0]),
}
for name, out in outputs.items():
    for leaf in (a, b, batch):
        leaf.grad = None
    out.sum().backward()
    grads = [None if g is None else [round(v, 4) for v in g.flatten().tolist()][:6]
             for g in (a.grad, b.grad, batch.grad)]
    print(f"{name}: value {[round(v, 4) for v in out.flatten().tolist()][:6]} grads {grads}")
