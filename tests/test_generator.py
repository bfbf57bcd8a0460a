"""tinytensor.Generator: a seeded stream of its own, with torch.Generator's methods and meanings."""
from __future__ import annotations

import pytest

import tinytensor as tt


def torch_or_skip():
    return pytest.importorskip("torch", reason="PyTorch is the reference; pip install -e '.[torch]'")


def test_seeds_mean_what_torchs_mean():
    torch = torch_or_skip()
    g, theirs = tt.Generator(), torch.Generator()
    assert g.initial_seed() == theirs.initial_seed()        # the same default seed before any manual_seed
    assert g.manual_seed(5) is g and g.initial_seed() == 5
    for seed in (0, 2 ** 63, -1, -12345):                     # negative seeds kept as their 64-bit pattern
        assert g.manual_seed(seed).initial_seed() == theirs.manual_seed(seed).initial_seed()
    assert g.device == "cpu" and tt.Generator(device="cpu").device == "cpu"


def test_one_seed_one_stream_whatever_else_draws():
    first = tt.randperm(20, generator=tt.Generator().manual_seed(1)).tolist()
    tt.manual_seed(99)
    tt.rand(1000)                                             # the global stream moves; ours does not care
    assert tt.randperm(20, generator=tt.Generator().manual_seed(1)).tolist() == first
    assert sorted(first) == list(range(20))
    assert tt.randperm(20, generator=tt.Generator().manual_seed(2)).tolist() != first
    g = tt.Generator().manual_seed(1)
    assert tt.randperm(20, generator=g).tolist() == first and tt.randperm(20, generator=g).tolist() != first


def test_the_global_stream_does_not_see_a_generators_draws():
    tt.manual_seed(3)
    expected = tt.rand(5).tolist()
    tt.manual_seed(3)
    tt.rand(100, generator=tt.Generator().manual_seed(0))
    assert tt.rand(5).tolist() == expected


def test_get_state_and_set_state_continue_the_stream():
    g = tt.Generator().manual_seed(7)
    tt.randn(3, generator=g)
    state = g.get_state()
    ahead = tt.randn(4, generator=g).tolist()
    assert g.set_state(state) is g
    assert tt.randn(4, generator=g).tolist() == ahead
    state["state"]["state"] += 1                              # the saved state is a copy, not the live one
    assert tt.Generator().set_state(g.get_state()).get_state() == g.get_state()
    with pytest.raises(TypeError, match="a state from Generator.get_state"):
        g.set_state([1, 2, 3])


def test_seed_draws_a_fresh_seed():
    g = tt.Generator()
    seeds = {g.seed() for _ in range(3)}
    assert len(seeds) == 3 and g.initial_seed() in seeds and all(0 <= s < 2 ** 64 for s in seeds)


@pytest.mark.parametrize("dtype", [tt.float16, tt.float32, tt.float64])
def test_random_tensors_from_a_generator(dtype):
    def draw(seed: int) -> tuple:
        g = tt.Generator().manual_seed(seed)
        return tt.rand(2, 3, generator=g, dtype=dtype), tt.randn(50, generator=g, dtype=dtype)
    (u, n), (u2, n2) = draw(0), draw(0)
    assert u.shape == (2, 3) and u.dtype == dtype and n.dtype == dtype
    assert u.tolist() == u2.tolist() and n.tolist() == n2.tolist()
    assert 0 <= u.min().item() and u.max().item() < 1 and n.min().item() < 0 < n.max().item()
    g = tt.Generator().manual_seed(0)
    ids = tt.randint(3, 7, (200,), generator=g)
    assert ids.dtype == tt.int64 and set(ids.tolist()) == {3, 4, 5, 6}
    assert tt.randint(4, (3,), generator=g, dtype=tt.int32).dtype == tt.int32
    assert tt.randperm(5, generator=g, dtype=tt.float32).dtype == tt.float32
    with pytest.raises(TypeError, match="floating dtype"):
        tt.rand(3, generator=g, dtype=tt.int64)


def test_the_generator_lives_on_the_cpu(cuda):
    with pytest.raises(ValueError, match="only device='cpu'"):
        tt.Generator(device=cuda)
    with pytest.raises(RuntimeError, match="randn: expected a 'cuda' device type for generator but found 'cpu'"):
        tt.randn(3, device=cuda, generator=tt.Generator())
    assert tt.randn(3, device=cuda).device == cuda               # without one, the GPU's own generator


def test_backend_generator_is_the_numpy_generator_that_draws():
    g = tt.Generator().manual_seed(4)
    expected = g.backend_generator.permutation(6).tolist()
    assert tt.randperm(6, generator=tt.Generator().manual_seed(4)).tolist() == expected
