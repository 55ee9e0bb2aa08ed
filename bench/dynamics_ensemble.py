"""Residual ensemble on CPU: batched weight tensors (baddbmm) vs torch.func stack_module_state+vmap.

Run: .venv/bin/python bench/dynamics_ensemble.py   (prints ms per forward+backward and the ratio)
"""

from __future__ import annotations

import copy
import time

import torch
from torch import nn
from torch.func import functional_call, stack_module_state

from starbrain.models.dynamics.ensemble import ResidualEnsemble


def _time(fn, n: int = 10, repeats: int = 7) -> float:
    """Best of ``repeats`` means over ``n`` calls, in ms (the best is the least disturbed by a
    shared machine)."""
    for _ in range(3):
        fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n * 1e3)
    return best


def main() -> None:
    torch.manual_seed(0)
    in_dim, out_dim, hidden, batch = 8, 6, 64, 2048
    for members in (5, 7):
        ens = ResidualEnsemble(in_dim, out_dim, members, hidden, 2)
        z = torch.randn(members, batch, in_dim)

        def batched(ens=ens, z=z) -> None:
            m, lv = ens(z)
            (m.sum() + lv.sum()).backward()

        mlp = nn.Sequential(nn.Linear(in_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden),
                            nn.SiLU(), nn.Linear(hidden, 2 * out_dim))  # fmt: skip
        nets = [copy.deepcopy(mlp) for _ in range(members)]
        params, buffers = stack_module_state(nets)
        for p in params.values():
            p.requires_grad_(True)
        base = copy.deepcopy(mlp).to("meta")

        def call(p, b, x, base=base):
            return functional_call(base, (p, b), (x,))

        vm = torch.vmap(call)

        def vmapped(params=params, buffers=buffers, z=z, vm=vm) -> None:
            out = vm(params, buffers, z)
            out.sum().backward()

        tb, tv = _time(batched), _time(vmapped)
        print(f"{members} members, batch {batch}: baddbmm {tb:.2f} ms, vmap {tv:.2f} ms, "
              f"vmap/baddbmm {tv / tb:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
