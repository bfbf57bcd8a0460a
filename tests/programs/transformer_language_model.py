"""A word-level language model with nn.TransformerEncoder, in the manner of PyTorch's nn.Transformer tutorial.

Sinusoidal positions in a registered buffer, nn.TransformerEncoderLayer
stacked by nn.TransformerEncoder (sequence first), the square subsequent
mask, batchify and get_batch over one long stream of token ids, SGD with
StepLR and gradient clipping, perplexity, the best model kept through
torch.save and torch.load. Then the attention pieces under their torch
names: nn.MultiheadAttention and F.scaled_dot_product_attention with a
boolean mask (True: may attend) and with is_causal.
Written for PyTorch; run unchanged by tests/test_pytorch_programs.py.
"""
import math
import os
import tempfile

import torch
from torch import nn
import torch.nn.functional as F

torch.manual_seed(0)
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, dropout=0.1, max_len=5000):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, 1, d_model)
        pe[:, 0, 0::2] = torch.sin(position * div_term)
        pe[:, 0, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe)

    def forward(self, x):
        """x: (seq_len, batch, d_model)"""
        x = x + self.pe[:x.size(0)]
        return self.dropout(x)


class TransformerModel(nn.Module):
    def __init__(self, ntoken, d_model, nhead, d_hid, nlayers, dropout=0.5):
        super().__init__()
        self.model_type = "Transformer"
        self.pos_encoder = PositionalEncoding(d_model, dropout)
        encoder_layers = nn.TransformerEncoderLayer(d_model, nhead, d_hid, dropout)
        self.transformer_encoder = nn.TransformerEncoder(encoder_layers, nlayers)
        self.embedding = nn.Embedding(ntoken, d_model)
        self.d_model = d_model
        self.linear = nn.Linear(d_model, ntoken)
        self.init_weights()

    def init_weights(self):
        initrange = 0.1
        self.embedding.weight.data.uniform_(-initrange, initrange)
        self.linear.bias.data.zero_()
        self.linear.weight.data.uniform_(-initrange, initrange)

    def forward(self, src, src_mask=None):
        """src: (seq_len, batch) ids -> (seq_len, batch, ntoken) logits"""
        src = self.embedding(src) * math.sqrt(self.d_model)
        src = self.pos_encoder(src)
        output = self.transformer_encoder(src, src_mask)
        return self.linear(output)


# A tiny corpus, tokenized into one long stream of ids
sentences = ["the cat sat on the mat", "the dog sat on the log", "a cat saw a dog",
             "the dog saw the cat on the mat", "a dog and a cat sat on a log"]
vocab = sorted({w for s in sentences for w in s.split()} | {"<eos>"})
stoi = {w: i for i, w in enumerate(vocab)}
stream = [stoi[w] for _ in range(6) for s in sentences for w in s.split() + ["<eos>"]]
data = torch.tensor(stream, dtype=torch.long)
split = int(0.8 * len(data))
train_stream, val_stream = data[:split], data[split:]


def batchify(data, bsz):
    """A stream of N ids -> (N // bsz, bsz): each column a contiguous piece."""
    seq_len = data.size(0) // bsz
    data = data[:seq_len * bsz]
    data = data.view(bsz, seq_len).t().contiguous()
    return data.to(device)


batch_size, eval_batch_size, bptt = 4, 2, 8
train_data = batchify(train_stream, batch_size)
val_data = batchify(val_stream, eval_batch_size)


def get_batch(source, i):
    seq_len = min(bptt, len(source) - 1 - i)
    data = source[i:i + seq_len]
    target = source[i + 1:i + 1 + seq_len].reshape(-1)
    return data, target


ntokens = len(vocab)
model = TransformerModel(ntokens, d_model=32, nhead=2, d_hid=64, nlayers=2, dropout=0.0).to(device)
criterion = nn.CrossEntropyLoss()
lr = 1.0
optimizer = torch.optim.SGD(model.parameters(), lr=lr)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1.0, gamma=0.95)


def train(model):
    model.train()
    total_loss = 0.0
    num_batches = len(train_data) // bptt
    for batch, i in enumerate(range(0, train_data.size(0) - 1, bptt)):
        data, targets = get_batch(train_data, i)
        src_mask = nn.Transformer.generate_square_subsequent_mask(data.size(0)).to(device)
        output = model(data, src_mask)
        loss = criterion(output.view(-1, ntokens), targets)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        optimizer.step()
        total_loss += loss.item()
    cur_loss = total_loss / num_batches
    print(f"| epoch {epoch:3d} | {num_batches:5d} batches | lr {scheduler.get_last_lr()[0]:02.4f} "
          f"| loss {cur_loss:5.4f} | ppl {math.exp(cur_loss):8.4f}")


def evaluate(model, eval_data):
    model.eval()
    total_loss = 0.0
    with torch.no_grad():
        for i in range(0, eval_data.size(0) - 1, bptt):
            data, targets = get_batch(eval_data, i)
            seq_len = data.size(0)
            src_mask = nn.Transformer.generate_square_subsequent_mask(seq_len).to(device)
            output = model(data, src_mask)
            total_loss += seq_len * criterion(output.view(-1, ntokens), targets).item()
    return total_loss / (len(eval_data) - 1)


best_val_loss = float("inf")
with tempfile.TemporaryDirectory() as tempdir:
    best_model_params_path = os.path.join(tempdir, "best_model_params.pt")
    for epoch in range(1, 4):
        train(model)
        val_loss = evaluate(model, val_data)
        print(f"| end of epoch {epoch:3d} | valid loss {val_loss:5.4f} | valid ppl {math.exp(val_loss):8.4f}")
        if val_loss < best_val_loss:
            best_val_loss = val_loss
            torch.save(model.state_dict(), best_model_params_path)
        scheduler.step()
    model.load_state_dict(torch.load(best_model_params_path, weights_only=True))
print(f"best validation loss {evaluate(model, val_data):.4f}")

mask = nn.Transformer.generate_square_subsequent_mask(3)
print("subsequent mask:", mask.tolist())

# nn.MultiheadAttention, batch first, with a key padding mask
mha = nn.MultiheadAttention(embed_dim=8, num_heads=2, batch_first=True)
query = torch.sin(torch.arange(2 * 4 * 8.0)).reshape(2, 4, 8)
key_padding_mask = torch.tensor([[False, False, False, True], [False, False, False, False]])
attn_output, attn_weights = mha(query, query, query, key_padding_mask=key_padding_mask)
print("MultiheadAttention:", tuple(attn_output.shape), tuple(attn_weights.shape),
      [round(v, 5) for v in attn_weights[0, 0].tolist()])
attn_output.sum().backward()
print("in_proj_weight grad norm:", round(mha.in_proj_weight.grad.norm().item(), 5))

# F.scaled_dot_product_attention: a boolean mask says where attention may go
q = torch.cos(torch.arange(2 * 2 * 3 * 4.0)).reshape(2, 2, 3, 4).requires_grad_()
k = torch.sin(torch.arange(2 * 2 * 3 * 4.0)).reshape(2, 2, 3, 4)
v = torch.arange(2 * 2 * 3 * 4.0).reshape(2, 2, 3, 4) / 10
allowed = torch.ones(3, 3, dtype=torch.bool).tril()
by_mask = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
by_flag = F.scaled_dot_product_attention(q, k, v, is_causal=True)
scores = (q @ k.transpose(-2, -1)) / math.sqrt(4)
by_hand = scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1) @ v
print("sdpa mask == is_causal == by hand:", torch.allclose(by_mask, by_flag, atol=1e-6),
      torch.allclose(by_mask, by_hand, atol=1e-6))
additive = torch.zeros(3, 3).masked_fill(~allowed, float("-inf"))
by_float = F.scaled_dot_product_attention(q, k, v, attn_mask=additive)
print("a float mask is added:", torch.allclose(by_float, by_hand, atol=1e-6))
by_mask.sum().backward()
print("sdpa grad:", [round(x, 5) for x in q.grad[0, 0].flatten().tolist()[:6]])
