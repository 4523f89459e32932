"""The code behind a run: the plain script that trains the same model as a config.

mnist-tui wraps the tutorials' few lines in processes, run directories and a UI; a learner
should still see those few lines. ``script_for(cfg)`` writes them in the tutorials' own
style: the data from the same source (read the way ``mnist_tui.data`` reads it: IDX files,
gzipped or not, or an .npz), reshaped and scaled by 1/255, one-hot or sparse labels, a
``Sequential`` of the same layers, ``compile`` with the same optimizer, learning rate and
loss, ``fit`` with the same epochs, batch size and validation, then ``evaluate``. For
``scratch``, the NumPy network of the same size, trained the same way. The script imports
only Keras (or NumPy) and, with the same seed, reaches the accuracy ``mnist-tui train``
does (a test runs both). Pure text: this module imports neither Keras nor Textual.
"""

from __future__ import annotations

from mnist_tui.config import PRESETS, TrainConfig, resolve_backend
from mnist_tui.data.sources import BUNDLED_DIR, DATA_ENV, bundled_available
from mnist_tui.fields import FIELDS
from mnist_tui.models.spec import Layer, input_shape, layers_for

KERAS_DATASETS = {"mnist": "mnist", "fashion-mnist": "fashion_mnist"}
OPTIMIZER_CLASSES = {"sgd": "SGD", "rmsprop": "RMSprop", "adam": "Adam"}


def command_line(cfg: TrainConfig) -> str:
    """``mnist-tui train`` with the flags that differ from the preset's recipe."""
    base = PRESETS[cfg.preset].config
    parts = ["mnist-tui train", f"--model {cfg.preset}"]
    for f in FIELDS:
        if f.name == "preset":
            continue
        value, default = getattr(cfg, f.name), getattr(base, f.name)
        if value == default:
            continue
        if isinstance(value, bool):
            text = "on" if value else "off"
        elif isinstance(value, str) and (" " in value or not value):
            text = repr(value)
        else:
            text = f"{value:g}" if isinstance(value, float) else str(value)
        parts.append(f"{f.flag} {text}")
    return " ".join(parts)


def script_for(cfg: TrainConfig) -> str:
    """The whole script for ``cfg``: Keras for the Keras presets, NumPy for scratch."""
    return numpy_script(cfg) if cfg.preset == "scratch" else keras_script(cfg)


def suggested_name(cfg: TrainConfig) -> str:
    """A file name for the script: ``mnist_mlp.py``, ``fashion_cnn.py``."""
    data = "fashion" if cfg.dataset == "fashion-mnist" else "mnist"
    return f"{data}_{cfg.preset.replace('-', '_')}.py"


# ----------------------------------------------------------------------------- shared pieces
def _header(cfg: TrainConfig, what: str) -> str:
    title = PRESETS[cfg.preset].title
    return (f'"""{cfg.preset}: {title}.\n\n'
            f"{what}, the script equivalent to\n\n    {command_line(cfg)}\n\n"
            "Written by `mnist-tui code` with the same data, layers, optimizer and seed: run it with\n"
            "plain Python and it reaches the test accuracy mnist-tui reaches.\n"
            '"""\n')


def _data_block(cfg: TrainConfig, keras_fallback: bool) -> str:
    """Loading: --data, else $MNIST_TUI_DATA, else Keras's copy (or the bundled subset)."""
    lines = [
        "",
        "def read_idx(path):",
        '    """One IDX file (gzipped or not) as a uint8 array: the magic number, the sizes, the bytes."""',
        '    with open(path, "rb") as f:',
        "        data = f.read()",
        '    if data[:2] == b"\\x1f\\x8b":',
        "        data = gzip.decompress(data)",
        "    dims = data[3]",
        '    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]',
        "    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)",
        "",
        "",
        "def idx_file(directory, name):",
        '    """MNIST mirrors name the files with "-idx" or ".idx", gzipped or not."""',
        '    dotted = name.replace("-idx", ".idx")',
        '    for candidate in (name, name + ".gz", dotted, dotted + ".gz"):',
        "        if os.path.exists(os.path.join(directory, candidate)):",
        "            return os.path.join(directory, candidate)",
        '    raise FileNotFoundError(f"{directory}: no {name}")',
        "",
        "",
        "def load_data(path):",
        '    """(x_train, y_train), (x_test, y_test) from a directory of IDX files or an .npz."""',
        "    if os.path.isdir(path):",
        '        x_train = read_idx(idx_file(path, "train-images-idx3-ubyte"))',
        '        y_train = read_idx(idx_file(path, "train-labels-idx1-ubyte"))',
        '        x_test = read_idx(idx_file(path, "t10k-images-idx3-ubyte"))',
        '        y_test = read_idx(idx_file(path, "t10k-labels-idx1-ubyte"))',
        "        return (x_train, y_train), (x_test, y_test)",
        "    with np.load(path) as f:",
        '        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])',
        "",
        "",
    ]
    bundled = repr(str(BUNDLED_DIR)) if cfg.dataset == "mnist" and bundled_available() else None
    if cfg.data_path:
        lines += [f"DATA = {cfg.data_path!r}  # --data", "(x_train, y_train), (x_test, y_test) = load_data(DATA)"]
    elif keras_fallback:
        module = KERAS_DATASETS[cfg.dataset]
        lines += [f'DATA = os.environ.get("{DATA_ENV}")  # as mnist-tui: ${DATA_ENV}, else Keras\'s copy',
                  "if DATA:", "    (x_train, y_train), (x_test, y_test) = load_data(DATA)", "else:"]
        if bundled:
            lines += ["    try:  # Keras's cache, else its download",
                      f"        (x_train, y_train), (x_test, y_test) = keras.datasets.{module}.load_data()",
                      "    except Exception:  # offline: the 20k subset mnist-tui ships",
                      f"        (x_train, y_train), (x_test, y_test) = load_data({bundled})"]
        else:
            lines.append(f"    (x_train, y_train), (x_test, y_test) = keras.datasets.{module}.load_data()")
    else:
        cache = "mnist.npz" if cfg.dataset == "mnist" else "fashion-mnist"
        lines += [f'DATA = os.environ.get("{DATA_ENV}")  # as mnist-tui: ${DATA_ENV}, else Keras\'s cached copy',
                  f'KERAS_CACHE = os.path.expanduser("~/.keras/datasets/{cache}")']
        fallback = f"KERAS_CACHE if os.path.exists(KERAS_CACHE) else {bundled}" if bundled else "KERAS_CACHE"
        lines.append(f"(x_train, y_train), (x_test, y_test) = load_data(DATA or ({fallback}))")
    if cfg.limit is not None:
        lines.append(f"x_train, y_train = x_train[:{cfg.limit}], y_train[:{cfg.limit}]  # --limit")
    if cfg.val_split > 0:
        lines += [f"n_val = int(len(x_train) * {cfg.val_split!r})  # --val-split: the last images of train",
                  "x_train, x_val = x_train[:len(x_train) - n_val], x_train[len(x_train) - n_val:]",
                  "y_train, y_val = y_train[:len(y_train) - n_val], y_train[len(y_train) - n_val:]"]
    return "\n".join(lines) + "\n"


def _reshape(layout: str, name: str) -> str:
    if layout == "flat":
        return f'{name} = {name}.reshape(-1, 784).astype("float32") / 255'
    if layout == "image_channels":
        return f'{name} = {name}.reshape(-1, 28, 28, 1).astype("float32") / 255'
    return f'{name} = {name}.astype("float32") / 255'


# ----------------------------------------------------------------------------- Keras
def _keras_layer(layer: Layer) -> str:
    if layer.kind == "dense":
        return f'keras.layers.Dense({layer.units}, activation="{layer.activation}")'
    if layer.kind == "conv":
        k = layer.kernel
        return (f'keras.layers.Conv2D({layer.units}, ({k}, {k}), strides=1, padding="same", '
                f'activation="{layer.activation}")')
    if layer.kind == "pool":
        return "keras.layers.MaxPooling2D(pool_size=(2, 2), strides=2)"
    if layer.kind == "dropout":
        return f"keras.layers.Dropout({layer.rate!r})"
    return "keras.layers.Flatten()"


def _optimizer(cfg: TrainConfig) -> str:
    args = f"learning_rate={cfg.learning_rate!r}"
    if cfg.optimizer == "sgd" and cfg.momentum:
        args += f", momentum={cfg.momentum!r}"
    return f"keras.optimizers.{OPTIMIZER_CLASSES[cfg.optimizer]}({args})"


def keras_script(cfg: TrainConfig) -> str:
    """The Keras script of a Keras preset's config."""
    layout = PRESETS[cfg.preset].layout
    backend = resolve_backend(cfg.backend) if cfg.backend == "auto" else cfg.backend
    validation = cfg.val_split > 0
    sparse = cfg.loss == "sparse"
    out = [_header(cfg, "A plain Keras script"),
           "import gzip", "import os", "",
           f'os.environ["KERAS_BACKEND"] = "{backend}"  # before Keras is imported: the backend the run uses',
           "import keras", "import numpy as np", ""]
    out.append(_data_block(cfg, keras_fallback=True))
    out.append("# The pixels: uint8 0..255 to float32 0..1, shaped as the first layer takes them.")
    for name in ("x_train", *(("x_val",) if validation else ()), "x_test"):
        out.append(_reshape(layout, name))
    splits = ("y_train", *(("y_val",) if validation else ()), "y_test")
    if sparse:
        out.append("# Sparse labels: the class index itself, for sparse_categorical_crossentropy.")
    else:
        out.append("# One-hot labels: 3 becomes [0 0 0 1 0 0 0 0 0 0], for categorical_crossentropy.")
        for name in splits:
            out.append(f"{name} = keras.utils.to_categorical({name}, 10)")
    out += ["", f"keras.utils.set_random_seed({cfg.seed})  # --seed: the initial weights, the shuffling, dropout",
            "model = keras.Sequential([", f"    keras.Input(shape={input_shape(cfg)!r}),"]
    out += [f"    {_keras_layer(layer)}," for layer in layers_for(cfg)]
    out += ["])", "model.summary()", ""]
    loss = "sparse_categorical_crossentropy" if sparse else "categorical_crossentropy"
    jit = ", jit_compile=True" if cfg.jit and backend != "jax" else ""
    out += [f"model.compile(optimizer={_optimizer(cfg)},",
            f'              loss="{loss}", metrics=["accuracy"]{jit})']
    val = "(x_val, y_val)" if validation else "(x_test, y_test)"
    out += [f"model.fit(x_train, y_train, epochs={cfg.epochs}, batch_size={cfg.batch_size}, "
            f"validation_data={val}, verbose=2)",
            "test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)",
            'print(f"test loss {test_loss:.4f} test accuracy {test_accuracy:.4f}")', ""]
    return "\n".join(out)


# ----------------------------------------------------------------------------- NumPy (scratch)
def numpy_script(cfg: TrainConfig) -> str:
    """The NumPy script of the scratch net: forward, backprop and mini-batch SGD by hand."""
    relu = cfg.activation == "relu"
    h = cfg.hidden_units
    init = (f"std1, std2 = np.sqrt(2 / 784), np.sqrt(2 / {h})  # He: keeps the variance through relu" if relu else
            f"std1, std2 = np.sqrt(2 / (784 + {h})), np.sqrt(2 / ({h} + 10))  # Glorot: sigmoid stays unsaturated")
    activation = ("a1 = np.maximum(z1, 0)  # relu" if relu else
                  "a1 = 0.5 * (np.tanh(0.5 * z1) + 1)  # sigmoid, written with tanh: no overflow")
    derivative = "dz1 = da1 * (a1 > 0)" if relu else "dz1 = da1 * a1 * (1 - a1)"
    validation = cfg.val_split > 0
    out = [_header(cfg, "A NumPy-only network, forward pass, backprop and SGD by hand"),
           "import gzip", "import os", "", "import numpy as np", ""]
    out.append(_data_block(cfg, keras_fallback=False))
    out.append("# The pixels: uint8 0..255 to float32 0..1, each image a row of 784.")
    for name in ("x_train", *(("x_val",) if validation else ()), "x_test"):
        out.append(_reshape("flat", name))
    out += ['y_train_1h = np.eye(10, dtype="float32")[y_train]  # one-hot: 3 becomes [0 0 0 1 0 0 0 0 0 0]', ""]
    out += [
        f"rng = np.random.default_rng({cfg.seed})  # --seed",
        init,
        f'W1 = (rng.standard_normal((784, {h})) * std1).astype("float32")',
        f'b1 = np.zeros({h}, "float32")',
        f'W2 = (rng.standard_normal(({h}, 10)) * std2).astype("float32")',
        'b2 = np.zeros(10, "float32")',
        "params = {\"W1\": W1, \"b1\": b1, \"W2\": W2, \"b2\": b2}",
        "velocity = {k: np.zeros_like(v) for k, v in params.items()}",
        "",
        "",
        "def forward(x):",
        '    """The hidden layer\'s output and the softmax probabilities."""',
        '    z1 = x @ params["W1"] + params["b1"]',
        f"    {activation}",
        '    z2 = a1 @ params["W2"] + params["b2"]',
        "    e = np.exp(z2 - z2.max(axis=1, keepdims=True))  # minus the max: exp never overflows",
        "    return a1, e / e.sum(axis=1, keepdims=True)",
        "",
        "",
        "def accuracy(x, y):",
        "    return float(np.mean(np.concatenate([forward(x[i:i + 2048])[1].argmax(1)",
        "                                         for i in range(0, len(x), 2048)]) == y))",
        "",
        "",
        f"lr, momentum, batch_size = np.float32({cfg.learning_rate!r}), np.float32({cfg.momentum!r}), "
        f"{cfg.batch_size}",
        f"order_rng = np.random.default_rng([{cfg.seed}, 0])  # the shuffling",
        f"for epoch in range({cfg.epochs}):",
        "    order = order_rng.permutation(len(x_train))",
        "    for start in range(0, len(x_train), batch_size):",
        "        idx = order[start:start + batch_size]",
        "        x, y = x_train[idx], y_train_1h[idx]",
        "        a1, probs = forward(x)",
        "        dz2 = (probs - y) / np.float32(len(x))  # softmax + cross-entropy: the gradient is p - y",
        "        da1 = dz2 @ params[\"W2\"].T",
        f"        {derivative}",
        '        grads = {"W2": a1.T @ dz2, "b2": dz2.sum(axis=0), "W1": x.T @ dz1, "b1": dz1.sum(axis=0)}',
        "        for k, g in grads.items():  # SGD" + (" with momentum" if cfg.momentum else ""),
    ]
    if cfg.momentum:
        out += ["            velocity[k] = momentum * velocity[k] - lr * g",
                "            params[k] += velocity[k]"]
    else:
        out.append("            params[k] -= lr * g")
    val = ("x_val, y_val", "validation") if validation else ("x_test, y_test", "test")
    out += [f'    print(f"epoch {{epoch + 1}}/{cfg.epochs}: {val[1]} accuracy {{accuracy({val[0]}):.4f}}")',
            "",
            'print(f"test accuracy {accuracy(x_test, y_test):.4f}")', ""]
    return "\n".join(out)
