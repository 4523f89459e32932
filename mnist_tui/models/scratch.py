"""A NumPy-only two-layer MNIST network: the textbook "from scratch" model.

784 inputs -> one hidden layer (sigmoid or relu) -> 10-way softmax, trained with
cross-entropy, hand-written backprop and mini-batch SGD with optional momentum.
Everything is vectorised per batch (one matmul per layer) and kept in float32 by
default so an epoch over MNIST takes a couple of seconds on a laptop CPU.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import numpy as np

from mnist_tui.errors import ModelFileError
from mnist_tui.fsguard import open_regular, open_zip, read_npy_member, user_path

ACTIVATIONS = ("sigmoid", "relu")
PARAM_KEYS = ("W1", "b1", "W2", "b2")
SAVED_KEYS = (*PARAM_KEYS, "activation", "hidden")  # the arrays of a saved .npz
_PROB_FLOOR = 1e-12


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax; subtracting the row max keeps exp() finite for huge logits."""
    shifted = z - np.max(z, axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=-1, keepdims=True)


def cross_entropy(probs: np.ndarray, y_onehot: np.ndarray) -> float:
    """Mean cross-entropy over rows; probs are clipped so log(0) never yields inf."""
    clipped = np.clip(probs, _PROB_FLOOR, None)
    return float(-np.sum(y_onehot * np.log(clipped)) / probs.shape[0])


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function written via tanh so large |z| cannot overflow exp()."""
    return 0.5 * (np.tanh(0.5 * z) + 1.0)


class ScratchNet:
    """Two-layer perceptron with explicit params so every step of backprop is visible."""

    def __init__(
        self,
        n_in: int = 784,
        hidden: int = 100,
        n_out: int = 10,
        activation: str = "sigmoid",
        seed: int = 0,
        dtype: type[np.floating] | np.dtype = np.float32,
    ) -> None:
        """Initialise weights: He for relu (keeps variance through rectifiers),
        Xavier/Glorot for sigmoid (keeps pre-activations in the non-saturated range)."""
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {activation!r}; expected one of {ACTIVATIONS}"
            )
        if min(n_in, hidden, n_out) < 1:
            raise ValueError("layer sizes must be positive")
        self.n_in = int(n_in)
        self.hidden = int(hidden)
        self.n_out = int(n_out)
        self.activation = activation
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng(seed)
        if activation == "relu":
            std1 = np.sqrt(2.0 / n_in)
            std2 = np.sqrt(2.0 / hidden)
        else:
            std1 = np.sqrt(2.0 / (n_in + hidden))
            std2 = np.sqrt(2.0 / (hidden + n_out))
        self.params: dict[str, np.ndarray] = {
            "W1": (rng.standard_normal((n_in, hidden)) * std1).astype(self.dtype),
            "b1": np.zeros(hidden, dtype=self.dtype),
            "W2": (rng.standard_normal((hidden, n_out)) * std2).astype(self.dtype),
            "b2": np.zeros(n_out, dtype=self.dtype),
        }
        self._velocity: dict[str, np.ndarray] = {}

    # ------------------------------------------------------------------ info
    @property
    def param_count(self) -> int:
        """Total trainable scalars, shown in the model summary."""
        return int(sum(p.size for p in self.params.values()))

    def summary_rows(self) -> list[tuple[str, str, int]]:
        """Keras-style (layer, output shape, params) rows so the UI can show one table."""
        return [
            (
                f"dense_hidden ({self.activation})",
                f"(None, {self.hidden})",
                int(self.params["W1"].size + self.params["b1"].size),
            ),
            (
                "dense_out (softmax)",
                f"(None, {self.n_out})",
                int(self.params["W2"].size + self.params["b2"].size),
            ),
        ]

    # --------------------------------------------------------------- compute
    def _as_input(self, x: np.ndarray) -> np.ndarray:
        """Cast inputs once to the net's dtype so matmuls never upcast silently."""
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.n_in:
            raise ValueError(f"expected input of shape (N, {self.n_in}), got {x.shape}")
        return x.astype(self.dtype, copy=False)

    def _forward_cache(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Forward pass returning (hidden activations, probs) for reuse by backprop."""
        p = self.params
        z1 = x @ p["W1"]
        z1 += p["b1"]
        if self.activation == "relu":
            a1 = np.maximum(z1, 0, out=z1)
        else:
            a1 = _sigmoid(z1)
        z2 = a1 @ p["W2"]
        z2 += p["b2"]
        return a1, softmax(z2)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities (N, n_out) for inputs (N, n_in) scaled to [0, 1]."""
        return self._forward_cache(self._as_input(x))[1]

    def _backward(
        self, x: np.ndarray, a1: np.ndarray, probs: np.ndarray, y_onehot: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Backprop through softmax+CE (dZ2 = (p - y)/N) and the hidden layer."""
        p = self.params
        n = x.shape[0]
        dz2 = (probs - y_onehot).astype(self.dtype, copy=False) / self.dtype.type(n)
        grads = {"W2": a1.T @ dz2, "b2": dz2.sum(axis=0)}
        da1 = dz2 @ p["W2"].T
        if self.activation == "relu":
            dz1 = da1 * (a1 > 0)
        else:
            dz1 = da1 * a1 * (1.0 - a1)
        grads["W1"] = x.T @ dz1
        grads["b1"] = dz1.sum(axis=0)
        return grads

    def loss_and_grads(
        self, x: np.ndarray, y_onehot: np.ndarray
    ) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
        """Mean CE loss, gradients keyed like ``params``, and the batch probabilities."""
        x = self._as_input(x)
        y_onehot = np.asarray(y_onehot)
        a1, probs = self._forward_cache(x)
        loss = cross_entropy(probs, y_onehot)
        return loss, self._backward(x, a1, probs, y_onehot), probs

    def train_batch(
        self, x: np.ndarray, y_onehot: np.ndarray, lr: float, momentum: float = 0.0
    ) -> tuple[float, float]:
        """One SGD step; returns (loss, accuracy) of the batch *before* the update,
        which comes free from the forward pass backprop needs anyway."""
        loss, grads, probs = self.loss_and_grads(x, y_onehot)
        acc = float(np.mean(np.argmax(probs, axis=1) == np.argmax(y_onehot, axis=1)))
        lr_t = self.dtype.type(lr)
        if momentum:
            mom_t = self.dtype.type(momentum)
            for key, grad in grads.items():
                v = self._velocity.get(key)
                if v is None:
                    v = np.zeros_like(self.params[key])
                v *= mom_t
                v -= lr_t * grad
                self._velocity[key] = v
                self.params[key] += v
        else:
            for key, grad in grads.items():
                self.params[key] -= lr_t * grad
        return loss, acc

    def velocity(self) -> dict[str, np.ndarray]:
        """The momentum buffers (zeros where none exists yet): a checkpoint saves them so a
        resumed run continues with the same momentum, not from rest."""
        return {k: self._velocity.get(k, np.zeros_like(self.params[k])) for k in PARAM_KEYS}

    def set_velocity(self, velocity: dict[str, np.ndarray]) -> None:
        for key, value in velocity.items():
            if key not in self.params or value.shape != self.params[key].shape:
                raise ValueError(f"momentum buffer {key!r} does not fit the network")
        self._velocity = {k: np.array(v, dtype=self.dtype) for k, v in velocity.items()}

    def predict_proba(self, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
        """Forward in chunks so evaluating 60k images never builds one huge hidden matrix."""
        x = np.asarray(x)
        if x.shape[0] == 0:
            return np.zeros((0, self.n_out), dtype=self.dtype)
        step = max(1, int(batch_size))
        return np.concatenate(
            [self.forward(x[i : i + step]) for i in range(0, x.shape[0], step)]
        )

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """(mean CE loss, accuracy) against integer labels ``y``."""
        y = np.asarray(y).astype(np.int64, copy=False).ravel()
        probs = self.predict_proba(x)
        if y.size == 0:
            return 0.0, 0.0
        picked = np.clip(probs[np.arange(y.size), y], _PROB_FLOOR, None)
        loss = float(-np.mean(np.log(picked)))
        acc = float(np.mean(np.argmax(probs, axis=1) == y))
        return loss, acc

    # -------------------------------------------------------------------- io
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write an .npz atomically (temp file + fsync + os.replace) so a crash
        mid-save never leaves a truncated model where a good one used to be."""
        target = Path(path)
        directory = target.parent if str(target.parent) else Path(".")
        directory.mkdir(parents=True, exist_ok=True)
        tmp_name: str | None = None
        try:
            with tempfile.NamedTemporaryFile(
                dir=directory, delete=False, suffix=".npz"
            ) as tmp:
                tmp_name = tmp.name
                np.savez(
                    tmp,
                    W1=self.params["W1"],
                    b1=self.params["b1"],
                    W2=self.params["W2"],
                    b2=self.params["b2"],
                    activation=np.array(self.activation),
                    hidden=np.array(self.hidden, dtype=np.int64),
                )
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_name, target)
        except BaseException:
            if tmp_name is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_name)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ScratchNet:
        """Rebuild a net from ``save`` output; any defect becomes a one-line ModelFileError.

        Read through ``mnist_tui.fsguard``: a FIFO or device is refused without blocking,
        the archive's declared sizes are checked before anything is inflated, and no
        array is allocated beyond the bytes its member declares.
        """
        name = os.fspath(path)
        with (open_regular(user_path(name), ModelFileError, expected="an .npz model file") as fh,
              open_zip(fh, ModelFileError, name, "a scratch model (.npz)") as zf):
            present = set(zf.namelist())
            missing = [k for k in SAVED_KEYS if f"{k}.npy" not in present]
            if missing:
                raise ModelFileError(
                    f"{name}: missing {', '.join(missing)} in model file "
                    f"(a scratch model holds {', '.join(SAVED_KEYS)})"
                )
            arrays = {k: read_npy_member(zf, f"{k}.npy", ModelFileError, name) for k in SAVED_KEYS}
        saved_activation, saved_hidden = arrays.pop("activation"), arrays.pop("hidden")
        if saved_activation.ndim != 0 or saved_activation.dtype.kind != "U":
            raise ModelFileError(f"{name}: activation is not a name")
        if saved_hidden.ndim != 0 or saved_hidden.dtype.kind not in "iu":
            raise ModelFileError(f"{name}: hidden is not an integer")
        activation, hidden = str(saved_activation[()]), int(saved_hidden[()])
        if activation not in ACTIVATIONS:
            raise ModelFileError(f"{name}: unknown activation {activation!r}")
        w1, b1, w2, b2 = (arrays[k] for k in PARAM_KEYS)
        shapes_ok = (
            w1.ndim == 2
            and w2.ndim == 2
            and w1.shape[1] == hidden
            and b1.shape == (hidden,)
            and w2.shape[0] == hidden
            and b2.shape == (w2.shape[1],)
            and all(np.issubdtype(a.dtype, np.floating) for a in (w1, b1, w2, b2))
        )
        if not shapes_ok or hidden < 1 or w1.shape[0] < 1 or w2.shape[1] < 1:
            raise ModelFileError(
                f"{name}: parameter shapes do not match a two-layer net"
            )
        if not all(np.all(np.isfinite(a)) for a in (w1, b1, w2, b2)):
            raise ModelFileError(f"{name}: parameters contain NaN or infinity")
        net = cls(
            n_in=w1.shape[0],
            hidden=hidden,
            n_out=w2.shape[1],
            activation=activation,
            dtype=w1.dtype,
        )
        net.params = {k: arrays[k].astype(net.dtype, copy=False) for k in PARAM_KEYS}
        return net
