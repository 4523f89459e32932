"""The Keras presets on JAX, several optimisation steps per call, every step still streamed.

Keras's ``fit`` returns to Python after every batch: on these small models the per-batch
round trip (the data iterator, the callbacks, one dispatch per step) costs as much as the
step. Here one jit-compiled call runs up to ``k`` steps in a loop on the device, on data
that sits there already (shuffled per epoch by an index plan, no copy of the images), and
returns each step's own loss and accuracy; the trainer then streams them as ``k``
``BatchEnd`` events, so the run log and the charts still get every batch.

The step itself is the preset's layer list (``mnist_tui.models.spec``) written in JAX, with
the Keras model's own variables and the Keras optimizer's own update
(``optimizer.stateless_apply``). Written out because XLA's CPU code for two of Keras's ops is
slow here: the weight gradient of a 2×2 convolution (25 ms a batch of 32, 6 ms as an im2col
matmul) and the gradient of max pooling (``reduce_window``: 8 ms, 3 ms as a reshape). Predictions
need no gradient, and there XLA's own convolution is the faster one. The loss
is Keras's own function on the softmax output, as ``fit`` computes it. The Keras model stays
the record: its variables are brought up to date at every epoch end (checkpoints, resume),
before any save ("checkpoint now") and before the run ends.

``k`` adapts so that a call lasts about ``CALL_SECONDS``: a pause, stop or checkpoint
request takes effect after the call it arrives in, so within ~0.1 s. ``MNIST_TUI_STEPS=fit``
turns this off (Keras's ``fit``); ``MNIST_TUI_STEPS=N`` caps ``k`` at N.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from mnist_tui.config import TrainConfig
from mnist_tui.events import TRAINING, EpochEnd, PhaseChanged
from mnist_tui.models.spec import layers_for
from mnist_tui.training.trainer import _KerasLoop

STEPS_ENV = "MNIST_TUI_STEPS"
CALL_SECONDS = 0.05  # what one call should last: the latency of pause/stop, and the group size on screen
MAX_STEPS = 64  # per call; the compiled loop takes any count up to this
CACHE_ENV = "MNIST_TUI_JAX_CACHE"  # a directory for compiled steps ("off": none)
OPTIONS_ENV = "MNIST_TUI_XLA_OPTIONS"  # XLA options for the compiled calls, "name=value,…" ("none": XLA's own)
# XNNPACK's kernels for the dense layers' matmuls and the elementwise work beside them: measured
# faster on 2 AVX2 cores (benchmarks/speed.py), as fast as XLA's own on 2 AVX-512 cores; the
# convolution net is as fast either way.
DEFAULT_OPTIONS = {"xla_cpu_use_xnnpack": True}
# Images per step of a prediction: the cnn's activations for 250 stay in the caches (its 10,000
# test digits take 0.72 s, and 1.08 s in chunks of 1,000; the mlps are as fast either way).
PREDICT_CHUNK = 250
SUPPORTED = {"dense", "conv", "pool", "dropout", "flatten"}


def wanted(cfg: TrainConfig) -> bool:
    """Whether ``cfg`` trains in this loop: a Keras preset on JAX, unless told otherwise."""
    if cfg.preset == "scratch" or cfg.backend != "jax":
        return False
    if os.environ.get(STEPS_ENV, "").strip().lower() in ("fit", "0", "off"):
        return False
    return all(layer.kind in SUPPORTED for layer in layers_for(cfg))


def max_steps() -> int:
    text = os.environ.get(STEPS_ENV, "").strip()
    return max(1, min(MAX_STEPS, int(text))) if text.isdigit() else MAX_STEPS


def compiler_options() -> dict[str, Any]:
    """XLA options for the compiled calls: ``DEFAULT_OPTIONS`` unless ``$MNIST_TUI_XLA_OPTIONS`` says."""
    text = os.environ.get(OPTIONS_ENV)
    if text is None:
        return dict(DEFAULT_OPTIONS)
    options: dict[str, Any] = {}
    for item in text.split(","):
        name, _, value = item.strip().partition("=")
        if name and name != "none":
            low = value.strip().lower()
            options[name] = True if low in ("", "true", "1") else False if low in ("false", "0") else value.strip()
    return options


def group_note(k: int) -> str:
    """What the status line says: the charts get batches in groups, not one at a time."""
    return f"batches arrive in groups of {k}" if k > 1 else ""


def enable_compile_cache() -> None:
    """Keep compiled code on disk: the next run of the same recipe skips the compiles (seconds).

    Called before the model is built: on JAX, Keras's weight initializers compile once per
    weight shape, 1.0 s of the mlp's start and 2.7 s of the cnn's, 0.1 and 0.2 s read back
    from here. Every compile is kept, the small ones too (a random key, a copy, an optimizer
    slot: 10-60 ms each to compile, about 1 ms to read back; 0.3 s of the mlp's 2.2 s run).
    JAX reads this setting at each compile, so enabling it late still works."""
    import jax

    where = os.environ.get(CACHE_ENV, "")
    if where.lower() == "off":
        return
    if not where:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        where = os.path.join(base, "mnist-tui", "jax")
    try:
        os.makedirs(where, mode=0o700, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", where)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    except Exception:  # a cache is an optimisation: without one the run only compiles again
        return


class Steps:
    """The device side: data, the model's state as arrays, and the compiled calls."""

    def __init__(self, model: Any, cfg: TrainConfig, x_train: np.ndarray, y_train: np.ndarray,
                 seed: int) -> None:
        import jax
        import jax.numpy as jnp
        import keras

        self.jax, self.jnp = jax, jnp
        self.model = model
        self.optimizer = model.optimizer
        self.optimizer.build(model.trainable_variables)  # a no-op once built (a resume builds it first)
        self.layers = layers_for(cfg)
        self.sparse = cfg.loss == "sparse"
        self.loss_fn = (keras.losses.sparse_categorical_crossentropy if self.sparse
                        else keras.losses.categorical_crossentropy)
        self.batch_size = cfg.batch_size
        self.n = len(x_train)
        self.steps = math.ceil(self.n / self.batch_size)
        self.max_steps = max_steps()
        self.x = jax.device_put(x_train)
        self.y = jax.device_put(y_train)
        self.seed = np.uint32(seed)  # the random key is made inside the calls: outside, it costs a compile
        self._epoch = np.int32(0)
        self.params: list[Any] = []
        self.opt_vars: list[Any] = []
        self.load()
        options = compiler_options()
        self._train = jax.jit(self._calls, donate_argnums=(0, 1), compiler_options=options)
        self._predict = jax.jit(self._predict_all, compiler_options=options)
        self._plan: tuple[Any, Any] | None = None

    # -- state: the Keras variables are the record
    def load(self) -> None:
        """Take the model's and the optimizer's variables (copies: the calls donate their buffers).

        Copied through NumPy: a JAX copy compiles once per shape (40 ms of the mlp's start)."""
        put = self.jax.device_put
        self.params = [put(np.array(v.value)) for v in self.model.trainable_variables]
        self.opt_vars = [put(np.array(v.value)) for v in self.optimizer.variables]

    def sync(self) -> None:
        """Write the state back into the Keras variables (copies: the next call donates these)."""
        for var, value in zip(self.model.trainable_variables, self.params, strict=True):
            var.assign(np.array(value))
        for var, value in zip(self.optimizer.variables, self.opt_vars, strict=True):
            var.assign(np.array(value))

    # -- the model, from its layer list
    def forward(self, params: list[Any], x: Any, key: Any, training: bool) -> Any:
        jax, jnp = self.jax, self.jnp
        weights = iter(params)
        h = x
        for i, layer in enumerate(self.layers):
            if layer.kind == "dense":
                kernel, bias = next(weights), next(weights)
                h = _activate(jax, jnp, h @ kernel + bias, layer.activation)
            elif layer.kind == "conv":
                kernel, bias = next(weights), next(weights)
                conv = _conv_same(jnp, h, kernel) if training else _conv_native(jax, h, kernel)
                h = _activate(jax, jnp, conv + bias, layer.activation)
            elif layer.kind == "pool":
                n, rows, cols, c = h.shape
                h = h[:, :rows // 2 * 2, :cols // 2 * 2].reshape(n, rows // 2, 2, cols // 2, 2, c).max(axis=(2, 4))
            elif layer.kind == "flatten":
                h = h.reshape(h.shape[0], -1)
            elif layer.kind == "dropout" and training and layer.rate > 0:
                keep = 1.0 - layer.rate  # as keras.random.dropout: keep with 1 − rate, scale by 1 / keep
                mask = jax.random.bernoulli(jax.random.fold_in(key, i), keep, h.shape)
                h = jnp.where(mask, h / keep, 0.0)
        return h

    def _batch(self, params: list[Any], xb: Any, yb: Any, wb: Any, key: Any) -> tuple[Any, Any]:
        jnp = self.jnp
        probs = self.forward(params, xb, key, training=True)
        total = jnp.sum(wb)
        loss = jnp.sum(self.loss_fn(yb, probs) * wb) / total  # Keras's loss; the mean over the batch's rows
        truth = yb if self.sparse else jnp.argmax(yb, axis=-1)
        accuracy = jnp.sum((jnp.argmax(probs, axis=-1) == truth) * wb) / total
        return loss, accuracy

    def _calls(self, params: list[Any], opt_vars: list[Any], x: Any, y: Any, index: Any, weight: Any,
               start: Any, count: Any, seed: Any, epoch: Any) -> tuple[list[Any], list[Any], Any]:
        """``count`` steps from step ``start`` of the epoch's plan; each step's (loss, accuracy)."""
        jax, jnp = self.jax, self.jnp
        key = jax.random.fold_in(jax.random.key(seed), epoch)  # as outside the call: the same bits
        grad = jax.value_and_grad(self._batch, has_aux=True)
        optimizer = self.optimizer

        def step(i: Any, carry: tuple[list[Any], list[Any], Any]) -> tuple[list[Any], list[Any], Any]:
            params, opt_vars, out = carry
            rows = jax.lax.dynamic_index_in_dim(index, start + i, keepdims=False)
            wb = jax.lax.dynamic_index_in_dim(weight, start + i, keepdims=False)
            (loss, accuracy), grads = grad(params, x[rows], y[rows], wb, jax.random.fold_in(key, start + i))
            params, opt_vars = optimizer.stateless_apply(opt_vars, grads, params)
            return params, opt_vars, out.at[i].set(jnp.stack([loss, accuracy]))

        out = jnp.zeros((self.max_steps, 2), jnp.float32)
        params, opt_vars, out = jax.lax.fori_loop(0, count, step, (params, opt_vars, out))
        return params, opt_vars, out

    # -- an epoch
    def start_epoch(self, epoch: int, seed: int) -> None:
        """The epoch's shuffle as an index plan (rows × batch), the last batch padded with weight 0."""
        jax = self.jax
        order = np.random.default_rng([seed, epoch]).permutation(self.n).astype(np.int32)
        padded = self.steps * self.batch_size
        index = np.zeros(padded, np.int32)
        index[:self.n] = order
        weight = np.zeros(padded, np.float32)
        weight[:self.n] = 1.0
        self._plan = (jax.device_put(index.reshape(self.steps, self.batch_size)),
                      jax.device_put(weight.reshape(self.steps, self.batch_size)))
        self._epoch = np.int32(epoch)

    def run(self, start: int, count: int) -> np.ndarray:
        """Steps ``start`` … ``start + count − 1`` (0-based) of this epoch: their (loss, accuracy)."""
        assert self._plan is not None and 1 <= count <= self.max_steps
        index, weight = self._plan
        self.params, self.opt_vars, out = self._train(self.params, self.opt_vars, self.x, self.y, index, weight,
                                                      np.int32(start), np.int32(count), self.seed, self._epoch)
        return np.asarray(out)[:count].astype(np.float64)

    # -- predictions
    def _predict_all(self, params: list[Any], x: Any) -> Any:
        jax = self.jax
        chunk = PREDICT_CHUNK
        n = x.shape[0]
        pad = -n % chunk
        xs = self.jnp.pad(x, [(0, pad)] + [(0, 0)] * (x.ndim - 1)).reshape(-1, chunk, *x.shape[1:])
        probs = jax.lax.map(lambda xb: self.forward(params, xb, None, training=False), xs)
        return probs.reshape(-1, probs.shape[-1])[:n]

    def predict(self, x: np.ndarray | Any) -> np.ndarray:
        return np.asarray(self._predict(self.params, x), dtype=np.float32)


def _activate(jax: Any, jnp: Any, z: Any, name: str) -> Any:
    if name == "relu":
        return jax.nn.relu(z)
    if name == "sigmoid":
        return jax.nn.sigmoid(z)
    if name == "tanh":
        return jnp.tanh(z)
    if name == "softmax":
        return jax.nn.softmax(z, axis=-1)
    return z


def _conv_native(jax: Any, x: Any, kernel: Any) -> Any:
    """The same convolution as XLA's own: for predictions (no gradient), where it is the faster
    one (the cnn's 10,000 test digits in chunks of 1,000: 1.05 s against 2.0 s as im2col, on 2
    AVX-512 cores)."""
    kh, kw = kernel.shape[:2]
    pad = [((kh - 1) // 2, kh - 1 - (kh - 1) // 2), ((kw - 1) // 2, kw - 1 - (kw - 1) // 2)]
    return jax.lax.conv_general_dilated(x, kernel, (1, 1), pad, dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _conv_same(jnp: Any, x: Any, kernel: Any) -> Any:
    """Stride-1 'same' convolution (NHWC, HWIO kernel, Keras's padding: an even kernel's extra
    row and column go after) as one matmul over shifted copies of the input (im2col)."""
    kh, kw, cin, cout = kernel.shape
    n, rows, cols, _ = x.shape
    top, left = (kh - 1) // 2, (kw - 1) // 2
    padded = jnp.pad(x, ((0, 0), (top, kh - 1 - top), (left, kw - 1 - left), (0, 0)))
    patches = jnp.concatenate([padded[:, i:i + rows, j:j + cols, :] for i in range(kh) for j in range(kw)], axis=-1)
    out = patches.reshape(n * rows * cols, kh * kw * cin) @ kernel.reshape(kh * kw * cin, cout)
    return out.reshape(n, rows, cols, cout)


class FastKerasLoop(_KerasLoop):
    """``_KerasLoop`` with its ``fit`` replaced by the compiled multi-step calls."""

    steps_engine: Steps | None = None

    def train_model(self, callback: Any) -> tuple[int, str]:
        cfg, meter, clock, control = self.cfg, self.meter, self.clock, self.control  # fit() enabled the compile cache
        engine = self.steps_engine = Steps(self.model, cfg, self.data.x_train, self.data.y_train, cfg.seed)
        self._x_test = engine.jax.device_put(self.data.x_test)
        self._x_val = engine.jax.device_put(self.data.x_val) if len(self.data.x_val) else None
        done = self.first_epoch
        k, per_step, calls = 1, 0.0, 0  # the first call compiles: one step, then k from measured times
        noted = 1  # the group size the status line was last told
        for epoch in range(self.first_epoch + 1, cfg.epochs + 1):
            if control.stop_requested:
                break
            meter.start_epoch(epoch)
            t_epoch = clock.elapsed()
            engine.start_epoch(epoch, cfg.seed)
            step, last = 0, None
            while step < engine.steps:
                count = min(k, engine.steps - step, engine.max_steps)
                t0 = clock.elapsed()
                values = engine.run(step, count)
                t1 = clock.elapsed()
                for j, (loss, accuracy) in enumerate(values):
                    at = t0 + (t1 - t0) * (j + 1) / count  # spread over the call: honest samples/s per batch
                    last = meter.from_batch_values(step + j + 1, float(loss), float(accuracy), at=at)
                    self.emit(last)
                    if not (math.isfinite(last.batch_loss) and math.isfinite(last.loss)):
                        return done, (f"loss became {last.batch_loss} at epoch {epoch} step {last.step}"
                                      " — learning rate too high?")
                step += count
                calls += 1
                if calls > 1:  # the first call's time is mostly the compile
                    seconds = (t1 - t0) / count
                    per_step = seconds if per_step == 0 else 0.7 * per_step + 0.3 * seconds
                    k = max(1, min(engine.max_steps, int(CALL_SECONDS / max(per_step, 1e-6))))
                    if k > 1 and (noted == 1 or abs(k - noted) * 2 > noted):  # said again on a real change
                        noted = k
                        clock.training_detail = group_note(k)
                        self.emit(PhaseChanged(TRAINING, clock.training_detail))
                elif calls == 1:
                    k = 2
                if control.paused:
                    clock.wait_while_paused(control, self.emit)
                self.after_batch()
                if control.stop_requested:
                    break
            if control.stop_requested and step < engine.steps:
                return done, ""
            assert last is not None
            val_loss, val_acc = self.end_of_epoch(epoch, last.loss, last.accuracy)
            done = epoch
            self.emit(EpochEnd(epoch, cfg.epochs, last.loss, last.accuracy, val_loss, val_acc,
                               clock.elapsed() - t_epoch))
        engine.sync()
        return done, ""

    def predict(self, x: np.ndarray) -> np.ndarray:
        engine = self.steps_engine
        if engine is None:
            return super().predict(x)
        if x is self.data.x_test:
            return engine.predict(self._x_test)  # on the device since the start
        if x is self.data.x_val and self._x_val is not None:
            return engine.predict(self._x_val)
        return engine.predict(x)

    def save(self, path: Path) -> None:
        if self.steps_engine is not None:
            self.steps_engine.sync()
        super().save(path)

    def state(self) -> tuple[list[tuple[str, np.ndarray]], list[tuple[str, np.ndarray]]]:
        if self.steps_engine is not None:
            self.steps_engine.sync()
        return super().state()

