"""gltui.learn.optim gives torch.optim's bits, reads and writes its state dicts, and a training
process never imports torch._dynamo (the ~2 s that torch.optim's classes cost every process)."""

import copy
import subprocess
import sys

import pytest
import torch

from gltui.learn import optim
from gltui.learn.models import build_model

CASES = {
    "adam-fused": (lambda ps: torch.optim.Adam(ps, lr=3e-3, fused=True),
                   lambda ps: optim.Adam(ps, lr=3e-3, fused=True)),
    "adam-plain": (lambda ps: torch.optim.Adam(ps, lr=3e-3),
                   lambda ps: optim.Adam(ps, lr=3e-3)),
    "adamw-fused": (lambda ps: torch.optim.AdamW(ps, lr=3e-3, weight_decay=5e-4, fused=True),
                    lambda ps: optim.Adam(ps, lr=3e-3, weight_decay=5e-4,
                                          decoupled_weight_decay=True, fused=True)),
    "sgd-nesterov": (lambda ps: torch.optim.SGD(ps, lr=0.03, momentum=0.9, nesterov=True,
                                                weight_decay=5e-4),
                     lambda ps: optim.SGD(ps, lr=0.03, weight_decay=5e-4)),
}


def _net(seed=0):
    return build_model("small", 1, (28, 28), 10, generator=torch.Generator().manual_seed(seed))


def _steps(net, opt, n, seed=1):
    g = torch.Generator().manual_seed(seed)
    for _ in range(n):
        x = torch.rand(16, 1, 28, 28, generator=g)
        y = torch.randint(0, 10, (16,), generator=g)
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(),
                                                  strict=True))


@pytest.mark.parametrize("case", sorted(CASES))
def test_steps_are_bit_identical_to_torch_optim(case):
    make_torch, make_ours = CASES[case]
    a, b = _net(), _net()
    _steps(a, make_torch(list(a.parameters())), 6)
    _steps(b, make_ours(list(b.parameters())), 6)
    assert _same(a, b)
    # and the reference really moved: a wrong update would not hide behind an unchanged net
    assert not _same(a, _net())


@pytest.mark.parametrize("case", sorted(CASES))
def test_state_dicts_cross_load_both_ways_and_continue_identically(case):
    make_torch, make_ours = CASES[case]
    ref = _net()
    ref_opt = make_torch(list(ref.parameters()))
    _steps(ref, ref_opt, 3)
    # state dicts hold the live tensors, which the next steps change in place
    saved_net, saved_opt = copy.deepcopy(ref.state_dict()), copy.deepcopy(ref_opt.state_dict())
    _steps(ref, ref_opt, 3, seed=2)

    ours = _net(seed=9)
    ours.load_state_dict(saved_net)
    ours_opt = make_ours(list(ours.parameters()))
    ours_opt.load_state_dict(saved_opt)
    _steps(ours, ours_opt, 3, seed=2)
    assert _same(ref, ours)

    back = _net(seed=9)
    back.load_state_dict(copy.deepcopy(ours.state_dict()))
    back_opt = make_torch(list(back.parameters()))
    back_opt.load_state_dict(copy.deepcopy(ours_opt.state_dict()))
    _steps(back, back_opt, 2, seed=3)
    _steps(ours, ours_opt, 2, seed=3)
    assert _same(back, ours)


def test_a_state_dict_of_another_network_is_refused():
    opt = optim.Adam(list(_net().parameters()), lr=1e-3)
    other = optim.Adam([torch.zeros(3, requires_grad=True)], lr=1e-3)
    with pytest.raises(ValueError, match="does not match"):
        opt.load_state_dict(other.state_dict())


def test_training_never_imports_torch_dynamo():
    # Both training loops, labels-only and semi-supervised, in a fresh process.
    code = (
        "import sys, numpy as np\n"
        "from gltui.config import TrainConfig\n"
        "from gltui.config import SemiConfig\n"
        "from gltui.learn.semi.train import fit_semi\n"
        "from gltui.learn.train import fit\n"
        "rng = np.random.default_rng(0)\n"
        "x = rng.integers(0, 256, (40, 1, 28, 28), dtype=np.uint8)\n"
        "y = np.arange(40) % 10\n"
        "fit('small', x, y, x[:10], y[:10], 10, TrainConfig(max_epochs=1), seed=0)\n"
        "fit_semi('small', x, y, x, x[:10], y[:10], 10, SemiConfig(epochs=1, steps_per_epoch=2),\n"
        "         seed=0)\n"
        "print('torch._dynamo' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"
