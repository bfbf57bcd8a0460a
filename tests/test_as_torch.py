"""tinytensor.as_torch: a program written for PyTorch runs unchanged with tinytensor as torch.

Each run is a fresh process (python -m tinytensor.as_torch, or a script using
``as_torch.imports()``), so no torch imported by another test can be in the way.
tests/test_pytorch_programs.py runs real programs this way and compares them with torch.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENT = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}

PROGRAM = """\
import sys
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
from helper import double  # the program's own folder is on sys.path, as with `python program.py`

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
data = DataLoader(TensorDataset(torch.randn(8, 3), torch.randn(8, 1)), batch_size=4)
for x, y in data:
    loss = F.mse_loss(model(x), y)
    loss.backward()
print(torch.__name__, nn.__name__, F.__name__, DataLoader.__module__, double(21), sys.argv)
try:
    import torch.jit
except ImportError as error:
    print(type(error).__name__, error)
"""


def run(args, cwd, **kwargs):
    return subprocess.run([sys.executable, *args], cwd=cwd, env=ENVIRONMENT, capture_output=True, text=True,
                          timeout=120, **kwargs)


def test_the_command_runs_a_pytorch_program_on_tinytensor(tmp_path):
    (tmp_path / "program.py").write_text(PROGRAM)
    (tmp_path / "helper.py").write_text("def double(x):\n    return 2 * x\n")
    out = run(["-m", "tinytensor.as_torch", str(tmp_path / "program.py"), "--steps", "3"], cwd=ROOT)
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()
    assert first == (f"tinytensor tinytensor.nn tinytensor.functional tinytensor.data.dataloader 42 "
                     f"[{str(tmp_path / 'program.py')!r}, '--steps', '3']")
    assert second == ("ModuleNotFoundError tinytensor has no torch.jit; remove torch.jit.script / "
                      "torch.jit.trace: tinytensor runs the Python as written")
    assert "import torch" not in out.stderr and "real torch" not in out.stderr


def test_a_users_mistake_is_one_error_line_and_exit_2(tmp_path):
    for args, says in ((["-m", "tinytensor.as_torch"], "error: give the program to run"),
                       (["-m", "tinytensor.as_torch", "missing.py"], "error: missing.py: no such file")):
        out = run(args, cwd=tmp_path)
        assert out.returncode == 2 and out.stderr.startswith(says) and len(out.stderr.splitlines()) == 1


def test_the_context_manager_leaves_nothing_behind():
    script = """\
import sys
from tinytensor import as_torch
with as_torch.imports():
    import torch, torch.nn
    print(torch.__name__, torch.nn.Linear.__module__)
print(sorted(name for name in sys.modules if name.split('.')[0] == 'torch'), len(sys.meta_path))
with as_torch.imports():
    import torch
    print(torch.__name__)
"""
    out = run(["-c", script], cwd=ROOT)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "tinytensor tinytensor.nn.linear" and lines[1].startswith("[] ")
    assert lines[2] == "tinytensor"


def test_a_real_torch_imported_before_is_set_aside_for_the_block_and_put_back():
    script = """\
import types, sys
real = sys.modules['torch'] = types.ModuleType('torch')  # as if the real torch had been imported
from tinytensor import as_torch
with as_torch.imports():
    import torch
    print(torch.__name__)
import torch
print(torch is real)
try:
    as_torch.install()
except RuntimeError as error:
    print(error)
"""
    out = run(["-c", script], cwd=ROOT)
    lines = out.stdout.splitlines()
    assert lines[:2] == ["tinytensor", "True"], out.stderr
    assert lines[2].startswith("tinytensor.as_torch: the real torch is already imported in this process")
