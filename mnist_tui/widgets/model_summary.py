"""A ``model.summary()``-style table computed from the config, without TensorFlow."""

from __future__ import annotations

from rich.table import Table
from textual.widgets import Static

from mnist_tui.config import PRESETS, TrainConfig
from mnist_tui.models.spec import summary


class ModelSummary(Static):
    def show(self, cfg: TrainConfig | None) -> None:
        self.total_params = None if cfg is None else sum(r.params for r in summary(cfg))
        if cfg is None:
            self.update("fix the highlighted fields to see the model")
            return
        table = Table(title=f"{cfg.preset}: {PRESETS[cfg.preset].title}", title_justify="left",
                      expand=True, box=None, padding=(0, 1), show_edge=False)
        table.add_column("Layer (activation)")
        table.add_column("Output shape")
        table.add_column("Param #", justify="right")
        rows = summary(cfg)
        for row in rows:
            table.add_row(row.name, row.shape_text, f"{row.params:,}")
        total = sum(r.params for r in rows)
        table.add_row("[b]Total params[/b]", "", f"[b]{total:,}[/b]")
        opt = f"{cfg.optimizer} lr={cfg.learning_rate:g}" + (f" momentum={cfg.momentum:g}" if cfg.momentum else "")
        loss = "cross-entropy (NumPy)" if cfg.preset == "scratch" else (
            "categorical_crossentropy (one-hot)" if cfg.loss == "categorical"
            else "sparse_categorical_crossentropy")
        table.caption = f"{opt} · {loss} · {cfg.epochs} epochs × batch {cfg.batch_size}"
        table.caption_justify = "left"
        self.update(table)
