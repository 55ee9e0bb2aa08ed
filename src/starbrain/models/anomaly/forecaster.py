"""LSTM forecasters over channel groups: predict each channel's next change from the recent past.

One small LSTM per channel group (a packet: propulsion, thermal, dynamics, GNSS, power), as
telemanom uses one per channel (Hundman et al., KDD 2018, §3.1) but sharing the group's
cross-channel context. Inputs: the last ``window`` first differences of every channel of the
group, each divided by its nominal difference noise (1.4826 x MAD over the training flights) and
clipped to +-``clip``; output: the next normalised difference of each continuous channel. The
prediction error ``|d_hat - d|`` is therefore in units of that channel's noise, comparable
across channels. Loss: Huber (the few staging transients in training data do not dominate).

Runs on CPU by default and on CUDA when present (``STARBRAIN_DEVICE`` overrides); training the
default configuration on 6 flights of 400 s at 20 Hz takes well under a minute on 2 cores.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

__all__ = ["Forecaster", "ForecasterConfig", "GroupLSTM", "default_device"]

FloatArray = npt.NDArray[np.float64]


@contextlib.contextmanager
def cpu_threads(n: int | None) -> Iterator[None]:
    """Run with ``n`` intra-op CPU threads, restoring the previous count. Small LSTMs gain
    nothing from more threads, and on a busy machine OpenMP spin-waits made one training step
    ~20x slower with 2 threads than with 1 (measured)."""
    old = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def default_device() -> torch.device:
    from starbrain.config import settings

    name = settings().device
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass(frozen=True)
class ForecasterConfig:
    window: int = 24  # samples of history
    hidden: int = 32
    layers: int = 1
    epochs: int = 5
    batch_size: int = 256
    lr: float = 5e-3
    windows_per_epoch: int = 8192  # random training windows drawn per epoch and group
    clip: float = 20.0
    seed: int = 0
    cpu_threads: int = 1  # torch intra-op threads while training and scoring on CPU
    variance_head: bool = False  # also predict each output's log-variance (Gaussian NLL loss)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


LOGVAR_RANGE = (-8.0, 8.0)  # clamp of the predicted log-variance (noise units squared)


class GroupLSTM(nn.Module):
    """``(B, L, n_in)`` normalised differences -> ``(B, n_out)`` next normalised differences;
    with ``variance_head`` ``(B, 2 n_out)``: the means, then their log-variances."""

    def __init__(
        self, n_in: int, n_out: int, hidden: int, layers: int, variance_head: bool = False
    ) -> None:
        super().__init__()
        self.lstm = nn.LSTM(n_in, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, n_out * (2 if variance_head else 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def _split(y: torch.Tensor, n_out: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Means and variances ``(B, n_out)`` from a variance-head output ``(B, 2 n_out)``."""
    return y[:, :n_out], torch.exp(torch.clamp(y[:, n_out:], *LOGVAR_RANGE))


class Forecaster:
    """The group LSTMs of one channel layout. ``inputs[g]`` and ``outputs[g]`` are channel
    indices (into the frame's channels) of group ``g``; ``scale`` ``(C,)`` the difference noise."""

    def __init__(
        self,
        inputs: Mapping[str, Sequence[int]],
        outputs: Mapping[str, Sequence[int]],
        config: ForecasterConfig = ForecasterConfig(),
        device: torch.device | str | None = None,
    ) -> None:
        self.config = config
        self.inputs = {g: list(v) for g, v in inputs.items()}
        self.outputs = {g: list(v) for g, v in outputs.items() if len(v)}
        self.device = torch.device(device) if device is not None else default_device()
        torch.manual_seed(config.seed)
        self.models = {
            g: GroupLSTM(
                len(self.inputs[g]), len(o), config.hidden, config.layers, config.variance_head
            ).to(self.device)
            for g, o in self.outputs.items()
        }
        self.scale = np.ones(0)
        self.history: list[dict[str, float]] = []

    # data ---------------------------------------------------------------------------------------
    def differences(self, x: FloatArray) -> FloatArray:
        """Normalised, clipped first differences ``(n, C)`` (row 0 is 0)."""
        d = np.diff(x, axis=0, prepend=x[:1]) / self.scale
        return np.clip(d, -self.config.clip, self.config.clip)

    def fit(
        self,
        xs: Sequence[FloatArray],
        masks: Sequence[npt.NDArray[np.bool_]],
        progress: Any = None,
    ) -> Forecaster:
        """Train every group's LSTM on nominal flights ``xs`` (each ``(n, C)``, gaps filled);
        rows where ``masks`` is False are never used as targets."""
        with cpu_threads(self.config.cpu_threads if self.device.type == "cpu" else None):
            return self._fit(xs, masks, progress)

    def _fit(
        self,
        xs: Sequence[FloatArray],
        masks: Sequence[npt.NDArray[np.bool_]],
        progress: Any = None,
    ) -> Forecaster:
        cfg = self.config
        raw = np.concatenate([np.diff(x, axis=0) for x in xs])
        mad = np.median(np.abs(raw - np.median(raw, axis=0)), axis=0) * 1.4826
        self.scale = np.where(mad > 0, mad, 1.0)
        L = cfg.window
        ds = [torch.as_tensor(self.differences(x), dtype=torch.float32) for x in xs]
        D = torch.cat(ds).to(self.device)
        # valid targets: at least L rows of history within the same flight, and unmasked
        valid = []
        base = 0
        for x, m in zip(xs, masks, strict=True):
            idx = np.arange(L, len(x))
            valid.append(base + idx[m[idx]])
            base += len(x)
        targets = torch.as_tensor(np.concatenate(valid), device=self.device)
        ar = torch.arange(-L, 0, device=self.device)
        gen = torch.Generator(device="cpu").manual_seed(cfg.seed)
        huber, nll = nn.HuberLoss(delta=3.0), nn.GaussianNLLLoss()

        def loss_fn(y: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            if not cfg.variance_head:
                return huber(y, target)
            mu, var = _split(y, target.shape[1])
            return nll(mu, target, var)

        for g, model in self.models.items():
            cin = torch.as_tensor(self.inputs[g], device=self.device)
            cout = torch.as_tensor(self.outputs[g], device=self.device)
            Dg_in, Dg_out = D[:, cin], D[:, cout]
            opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
            steps = max(1, cfg.windows_per_epoch // cfg.batch_size)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps * cfg.epochs)
            model.train()
            for epoch in range(cfg.epochs):
                total = 0.0
                for _ in range(steps):
                    pick = torch.randint(len(targets), (cfg.batch_size,), generator=gen)
                    t = targets[pick.to(self.device)]
                    xb = Dg_in[t[:, None] + ar[None, :]]
                    yb = Dg_out[t]
                    opt.zero_grad()
                    loss = loss_fn(model(xb), yb)
                    loss.backward()
                    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                    opt.step()
                    sched.step()
                    total += float(loss.detach())
                self.history.append({"group": g, "epoch": epoch, "loss": total / steps})  # type: ignore[dict-item]
                if progress is not None:
                    progress()
            model.eval()
        return self

    @torch.no_grad()
    def errors(self, x: FloatArray, chunk: int = 8192) -> FloatArray:
        """``(n, C)`` absolute prediction errors in noise units (0 for channels no group
        predicts and for the first ``window`` rows)."""
        return np.abs(self.residuals(x, chunk)[0])

    @torch.no_grad()
    def residuals(self, x: FloatArray, chunk: int = 8192) -> tuple[FloatArray, FloatArray]:
        """Signed prediction errors ``d - d_hat`` ``(n, C)`` in noise units and their predicted
        standard deviations ``(n, C)`` (1 without a variance head); 0 and 1 for channels no
        group predicts and for the first ``window`` rows."""
        with cpu_threads(self.config.cpu_threads if self.device.type == "cpu" else None):
            return self._residuals(x, chunk)

    @torch.no_grad()
    def _residuals(self, x: FloatArray, chunk: int) -> tuple[FloatArray, FloatArray]:
        L = self.config.window
        n = len(x)
        out, sd = np.zeros(x.shape), np.ones(x.shape)
        if n <= L:
            return out, sd
        D = torch.as_tensor(self.differences(x), dtype=torch.float32, device=self.device)
        ar = torch.arange(-L, 0, device=self.device)
        for g, model in self.models.items():
            cin = torch.as_tensor(self.inputs[g], device=self.device)
            cols = self.outputs[g]
            Dg = D[:, cin]
            preds = []
            for a in range(L, n, chunk):
                t = torch.arange(a, min(n, a + chunk), device=self.device)
                preds.append(model(Dg[t[:, None] + ar[None, :]]))
            y = torch.cat(preds)
            if self.config.variance_head:
                mu, var = _split(y, len(cols))
                sd[L:, cols] = np.sqrt(var.cpu().numpy().astype(np.float64))
            else:
                mu = y
            out[L:, cols] = D[L:, cols].cpu().numpy() - mu.cpu().numpy().astype(np.float64)
        return out, sd

    @torch.no_grad()
    def predict_last(self, d_window: FloatArray) -> dict[str, FloatArray]:
        """Next normalised differences per group from one window ``(window, C)`` of normalised
        differences (the online scorer's step); with a variance head the means then the
        log-variances (see :class:`GroupLSTM`)."""
        xb = torch.as_tensor(d_window, dtype=torch.float32, device=self.device)[None]
        with cpu_threads(self.config.cpu_threads if self.device.type == "cpu" else None):
            return {
                g: model(xb[:, :, self.inputs[g]])[0].cpu().numpy().astype(np.float64)
                for g, model in self.models.items()
            }

    # persistence --------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "config": asdict(self.config),
            "inputs": self.inputs,
            "outputs": self.outputs,
            "scale": self.scale,
            "weights": {g: {k: v.cpu() for k, v in m.state_dict().items()}
                        for g, m in self.models.items()},
            "history": self.history,
        }  # fmt: skip

    @classmethod
    def from_state(
        cls, s: Mapping[str, Any], device: torch.device | str | None = None
    ) -> Forecaster:
        f = cls(s["inputs"], s["outputs"], ForecasterConfig(**s["config"]), device)
        f.scale = np.asarray(s["scale"])
        for g, m in f.models.items():
            m.load_state_dict(s["weights"][g])
            m.eval()
        f.history = list(s.get("history", []))
        return f
