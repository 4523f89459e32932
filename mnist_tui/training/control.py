"""Cooperative stop/pause for a training thread, plus the per-batch bookkeeping both loops share.

Nothing here imports TensorFlow: the Keras callback and the NumPy loop both use it.
"""

from __future__ import annotations

import math
import threading
import time

from mnist_tui.events import PAUSED, TRAINING, BatchEnd, Emit, PhaseChanged


class TrainControl:
    """Stop and pause flags checked by the training loop after every batch.

    ``stop()`` also releases a paused loop, so a paused run can always be stopped (a thread
    that never wakes keeps the process alive after quit). ``quick`` asks the trainer to skip
    the final test evaluation, for quitting fast.
    """

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._checkpoint = threading.Event()
        self.quick = False

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set() and not self._stop.is_set()

    def stop(self, *, quick: bool = False) -> None:
        self.quick = self.quick or quick
        self._stop.set()
        self._running.set()

    def pause(self) -> None:
        if not self._stop.is_set():
            self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def request_checkpoint(self) -> None:
        """Save the model after the current batch ("checkpoint now")."""
        self._checkpoint.set()

    def take_checkpoint_request(self) -> bool:
        """True once per request: the training loop saves, then carries on."""
        if not self._checkpoint.is_set():
            return False
        self._checkpoint.clear()
        return True

    def toggle_pause(self) -> bool:
        """Pause if running, resume if paused; returns True when now paused."""
        if self.paused:
            self.resume()
            return False
        self.pause()
        return self.paused


class TrainClock:
    """Training time with pauses left out, so samples/s and ETA stay honest."""

    def __init__(self) -> None:
        self._start = time.perf_counter()
        self._paused_total = 0.0
        self.training_detail = ""  # said again with "training" after a pause (e.g. batches arrive in groups)

    def restart(self) -> None:
        """Start counting from now: set-up (imports, compiling) is not training time."""
        self._start = time.perf_counter()
        self._paused_total = 0.0

    def elapsed(self) -> float:
        return time.perf_counter() - self._start - self._paused_total

    def wait_while_paused(self, control: TrainControl, emit: Emit) -> None:
        if not control.paused:
            return
        emit(PhaseChanged(PAUSED))
        t0 = time.perf_counter()
        while control.paused:
            control._running.wait(0.5)
        self._paused_total += time.perf_counter() - t0
        if not control.stop_requested:
            emit(PhaseChanged(TRAINING, self.training_detail))


class BatchMeter:
    """Turns per-step numbers into BatchEnd events for one epoch at a time.

    Keras 3 logs the running mean since the start of the epoch, weighted by batch size.
    The batch's own value is recovered exactly: (S_k·a_k − S_{k−1}·a_{k−1}) / n_k.
    """

    def __init__(self, n_train: int, batch_size: int, clock: TrainClock) -> None:
        self.n_train = n_train
        self.batch_size = batch_size
        self.steps = math.ceil(n_train / batch_size)
        self.clock = clock
        self.epoch = 0
        self._seen = 0
        self._loss_sum = 0.0
        self._acc_sum = 0.0
        self._epoch_t0 = 0.0

    def start_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self._seen = 0
        self._loss_sum = 0.0
        self._acc_sum = 0.0
        self._epoch_t0 = self.clock.elapsed()

    def _event(self, step: int, seen: int, loss: float, acc: float, b_loss: float, b_acc: float,
               at: float | None = None) -> BatchEnd:
        elapsed = self.clock.elapsed() if at is None else at
        dt = elapsed - self._epoch_t0
        rate = seen / dt if dt > 0 else 0.0
        return BatchEnd(self.epoch, step, self.steps, seen, loss, acc, b_loss, b_acc, rate, elapsed)

    def from_running_means(self, step: int, loss: float, acc: float) -> BatchEnd:
        """Keras path: ``loss``/``acc`` are running means over the epoch so far."""
        seen = min(step * self.batch_size, self.n_train)
        n = seen - self._seen
        loss_sum = loss * seen
        acc_sum = acc * seen
        b_loss = (loss_sum - self._loss_sum) / n if n > 0 else loss
        # Keras keeps its means in float32: clamp the recovered accuracy's rounding error.
        b_acc = min(1.0, max(0.0, (acc_sum - self._acc_sum) / n)) if n > 0 else acc
        self._seen, self._loss_sum, self._acc_sum = seen, loss_sum, acc_sum
        return self._event(step, seen, loss, acc, b_loss, b_acc)

    def from_batch_values(self, step: int, b_loss: float, b_acc: float, at: float | None = None) -> BatchEnd:
        """NumPy path (and JAX's multi-step calls): the batch's own values; running means are
        derived the same way. ``at``: when the batch ended, if not now (a call ran several)."""
        seen = min(step * self.batch_size, self.n_train)
        n = seen - self._seen
        self._loss_sum += b_loss * n
        self._acc_sum += b_acc * n
        self._seen = seen
        return self._event(step, seen, self._loss_sum / seen, self._acc_sum / seen, b_loss, b_acc, at)
