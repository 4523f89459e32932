"""A ``model.summary()``-style table computed from the config, without TensorFlow.

Below ``COMPACT_WIDTH`` (the Setup view at 80 columns) the table keeps one line per layer:
shapes as ``28×28×32``, short headers, the recipe title on one cut line and the caption one
item a line, so nothing wraps mid-cell.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import events
from textual.widgets import Static

from mnist_tui.config import PRESETS, TrainConfig
from mnist_tui.models.spec import SummaryRow, summary
from mnist_tui.render.charset import symbols

COMPACT_WIDTH = 48


class ModelSummary(Static):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.config: TrainConfig | None = None
        self.total_params: int | None = None
        self.symbols = symbols()

    def show(self, cfg: TrainConfig | None) -> None:
        self.config = cfg
        self.total_params = None if cfg is None else sum(r.params for r in summary(cfg))
        self.update(self.table(cfg, self.size.width))

    def on_resize(self, event: events.Resize) -> None:
        self.update(self.table(self.config, event.size.width))

    def table(self, cfg: TrainConfig | None, width: int) -> RenderableType:
        """The summary for ``width`` cells (0: not laid out yet, drawn wide)."""
        sym = self.symbols
        if cfg is None:
            return "fix the highlighted fields to see the model"
        compact = 0 < width < COMPACT_WIDTH
        rows = summary(cfg)
        total = sum(r.params for r in rows)
        title = Text(no_wrap=compact, overflow="ellipsis", style="italic")
        title.append(cfg.preset, style="bold")
        title.append(": " + sym.text(PRESETS[cfg.preset].title))
        table = Table(expand=True, box=None, padding=(0, 1), show_edge=False, pad_edge=False)
        table.add_column("Layer" if compact else "Layer (activation)", no_wrap=compact, overflow="ellipsis")
        table.add_column("Output" if compact else "Output shape", no_wrap=True)
        table.add_column("Params" if compact else "Param #", justify="right", no_wrap=True)
        for row in rows:
            table.add_row(row.name, self._shape(row, compact), f"{row.params:,}")
        table.add_row("[b]Total params[/b]", "", f"[b]{total:,}[/b]")
        opt = f"{cfg.optimizer} lr={cfg.learning_rate:g}" + (f" momentum={cfg.momentum:g}" if cfg.momentum else "")
        loss = "cross-entropy (NumPy)" if cfg.preset == "scratch" else (
            "categorical_crossentropy (one-hot)" if cfg.loss == "categorical"
            else "sparse_categorical_crossentropy")
        run = f"{cfg.epochs} epochs {sym.times} batch {cfg.batch_size}"
        if compact:
            caption = Text(f"{opt}\n{run}\n{loss}", style="dim italic")
        else:
            caption = Text(f"{opt} {sym.dot} {loss} {sym.dot} {run}", style="dim italic")
        return Group(title, table, caption)

    def _shape(self, row: SummaryRow, compact: bool) -> str:
        if compact:
            return self.symbols.times.join(str(d) for d in row.output_shape)
        return row.shape_text
