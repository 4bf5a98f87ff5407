"""Adam, AdamW and Nesterov SGD: torch.optim's own update kernels, without torch.optim's classes.

Why this file exists: `torch.optim.Optimizer` imports `torch._dynamo` the first time a parameter
group is added, and again on every `step()` (to mark itself "not to be compiled"). That import
costs ~2 s per process on a 2-core machine, paid by every `gltui run`, every killed-and-resumed
round and every training subprocess in the tests, and gltui never compiles anything.

The classes below call the same functional updates that torch.optim's classes call
(`torch.optim.adam.adam`, `torch.optim.sgd.sgd`) with the same arguments and the same state, so
a step gives the same bits (tests/test_optim.py checks this against torch.optim). `state_dict()`
has torch.optim's layout (state keyed by parameter index, groups listing their indices), so
checkpoints written by either load into the other.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch.optim.adam import adam as _adam_update
from torch.optim.sgd import sgd as _sgd_update


class _Optimizer:
    """One parameter group, with torch.optim's `param_groups`, `state` and state-dict layout."""

    def __init__(self, params: Iterable[torch.Tensor], **defaults) -> None:
        self.param_groups = [dict(defaults, params=list(params))]
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}

    @property
    def _params(self) -> list[torch.Tensor]:
        return self.param_groups[0]["params"]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self._params:
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.detach_().zero_()

    def state_dict(self) -> dict:
        index = {id(p): i for i, p in enumerate(self._params)}
        groups = [{k: v for k, v in g.items() if k != "params"}
                  | {"params": list(range(len(g["params"])))} for g in self.param_groups]
        return {"state": {index[id(p)]: dict(s) for p, s in self.state.items()},
                "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        saved = state_dict["param_groups"]
        if len(saved) != 1 or len(saved[0]["params"]) != len(self._params):
            raise ValueError("the saved optimizer state does not match this network's parameters")
        group = self.param_groups[0]
        group.update({k: v for k, v in saved[0].items() if k != "params"})
        self.state = {}
        for i, values in state_dict["state"].items():
            p = self._params[int(i)]
            self.state[p] = {k: self._placed(k, v, p) for k, v in values.items()}

    def _placed(self, key: str, value: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        # What torch.optim.Optimizer.load_state_dict does: moments follow the parameter's dtype
        # and device; `step` stays a float32 tensor, on the parameter's device only when fused.
        if key != "step":
            return value.to(dtype=p.dtype, device=p.device)
        if self.param_groups[0].get("fused"):
            return value.to(dtype=torch.float32, device=p.device)
        return value


class Adam(_Optimizer):
    """torch.optim.Adam (AdamW with `decoupled_weight_decay=True`), one group, no amsgrad."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float, *, weight_decay: float = 0.0,
                 decoupled_weight_decay: bool = False, fused: bool | None = None,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=False, maximize=False, foreach=None, capturable=False,
                         differentiable=False, fused=fused,
                         decoupled_weight_decay=decoupled_weight_decay)

    @torch.no_grad()
    def step(self) -> None:
        group = self.param_groups[0]
        params, grads, exp_avgs, exp_avg_sqs, steps = [], [], [], [], []
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state.get(p)
            if not state:
                step = (torch.zeros((), dtype=torch.float32, device=p.device) if group["fused"]
                        else torch.tensor(0.0, dtype=torch.float32))
                state = self.state[p] = {
                    "step": step,
                    "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                    "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format)}
            params.append(p)
            grads.append(p.grad)
            exp_avgs.append(state["exp_avg"])
            exp_avg_sqs.append(state["exp_avg_sq"])
            steps.append(state["step"])
        beta1, beta2 = group["betas"]
        _adam_update(params, grads, exp_avgs, exp_avg_sqs, [], steps, foreach=group["foreach"],
                     capturable=False, differentiable=False, fused=group["fused"],
                     has_complex=any(torch.is_complex(p) for p in params),
                     decoupled_weight_decay=group["decoupled_weight_decay"], amsgrad=False,
                     beta1=beta1, beta2=beta2, lr=group["lr"], weight_decay=group["weight_decay"],
                     eps=group["eps"], maximize=False)


class SGD(_Optimizer):
    """torch.optim.SGD with momentum (Nesterov by default), one group."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float, *, momentum: float = 0.9,
                 nesterov: bool = True, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr=lr, momentum=momentum, dampening=0, weight_decay=weight_decay,
                         nesterov=nesterov, maximize=False, foreach=None, differentiable=False,
                         fused=None)

    @torch.no_grad()
    def step(self) -> None:
        group = self.param_groups[0]
        params = [p for p in group["params"] if p.grad is not None]
        buffers = [self.state.get(p, {}).get("momentum_buffer") for p in params]
        _sgd_update(params, [p.grad for p in params], buffers,
                    weight_decay=group["weight_decay"], momentum=group["momentum"],
                    lr=group["lr"], dampening=group["dampening"], nesterov=group["nesterov"],
                    maximize=False, has_sparse_grad=False, foreach=group["foreach"],
                    fused=group["fused"])
        for p, buffer in zip(params, buffers, strict=True):
            self.state.setdefault(p, {})["momentum_buffer"] = buffer
