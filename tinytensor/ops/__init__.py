"""The ops: one ``Function`` subclass per operation, forward and backward side by side.

| file            | ops                                                    |
|-----------------|--------------------------------------------------------|
| arithmetic.py   | + - * / ** and unary minus                             |
| broadcast.py    | broadcast_to and sum_to, the broadcasting pair         |
| pointwise.py    | exp log sqrt tanh sigmoid relu gelu abs sign rsqrt     |
| erf_series.py   | erf of an array (NumPy has none), for erf and gelu     |
| selection.py    | clip maximum minimum where masked_fill                 |
| reduction.py    | sum mean max min var norm prod                         |
| scan.py         | cumsum cumprod                                         |
| shape.py        | reshape permute/transpose squeeze unsqueeze flatten expand concat stack split chunk |
|                 | flip roll                                              |
| indexing.py     | x[index] and its backward, scatter-add, gather diag    |
| scatter.py      | scatter scatter_add index_fill (writing at indices)    |
| sorting.py      | sort argsort topk unique                               |
| matmul.py       | @ (batched, with broadcast batch dimensions), mm bmm outer |
| einsum.py       | einsum, whose gradient is an einsum                    |
| sampling.py     | multinomial (no gradient)                              |
| comparison.py   | == != < <= > >= argmax isnan isinf nonzero (no gradient) |
| conversion.py   | .to(dtype), .to(device), clone                         |
| promotion.py    | the dtype of a two-operand op; Binary, their base      |
"""
