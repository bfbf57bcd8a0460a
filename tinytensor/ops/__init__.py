"""The ops: one ``Function`` subclass per operation, forward and backward side by side.

| file            | ops                                                    |
|-----------------|--------------------------------------------------------|
| arithmetic.py   | + - * / ** and unary minus                             |
| broadcast.py    | broadcast_to and sum_to, the broadcasting pair         |
| pointwise.py    | exp log sqrt tanh sigmoid relu gelu abs                |
| selection.py    | clip maximum minimum where masked_fill                 |
| reduction.py    | sum mean max min var                                   |
| shape.py        | reshape permute/transpose squeeze unsqueeze flatten expand concat stack split chunk |
| indexing.py     | x[index] and its backward, scatter-add                 |
| matmul.py       | @ (batched, with broadcast batch dimensions)           |
| comparison.py   | == != < <= > >= argmax (no gradient)                   |
| conversion.py   | .to(dtype), .to(device), clone                         |
| promotion.py    | the dtype of a two-operand op; Binary, their base      |
"""
