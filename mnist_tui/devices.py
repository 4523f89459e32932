"""Which hardware training runs on: a cheap accelerator probe, the ``auto`` backend rule, device names.

``auto`` must pick the fastest mode a machine has, and a GPU beats any CPU: TensorFlow on a GPU
is faster than JAX on the CPU, although JAX is the faster of the two on a CPU. Deciding that
happens in the app process, which never imports TensorFlow, JAX or torch (seconds each, and the
UI must stay framework-free), so the probe only looks at device files, ``/proc`` and, as a last
resort, ``nvidia-smi -L`` with a short timeout, and the "can this build use that GPU" check only
looks at which packages are installed. ``device_name`` is the exception: the trainer process
calls it once Keras runs on a backend, to say where the run really trains.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

AcceleratorKind = Literal["nvidia", "rocm"]

# Where the probe looks; module-level so tests can point them at a temporary directory.
NVIDIA_PROC = Path("/proc/driver/nvidia/gpus")  # one directory per GPU, each with an "information" file
DEV = Path("/dev")  # nvidia0, nvidia1…; kfd is AMD's ROCm compute device
NVIDIA_SMI_TIMEOUT = 2.0  # seconds; only run when the device files are absent (WSL2, some containers)

# Fastest first, as measured on CPU (README, Performance): the order among backends that can
# all use the accelerator, and (jax, then tensorflow) when none can. torch is never the CPU
# default: it was slower and, for mlp, less accurate.
SPEED_ORDER = ("jax", "tensorflow", "torch")
CPU_ORDER = ("jax", "tensorflow")
FRAMEWORKS = ("tensorflow", "jax", "torch")
LABELS = {"jax": "JAX", "tensorflow": "TensorFlow", "torch": "PyTorch", "numpy": "NumPy"}


@dataclass(frozen=True)
class Accelerator:
    """A GPU the machine has, as far as can be told without loading a framework."""

    kind: AcceleratorKind
    names: tuple[str, ...] = ()  # model names when the probe could read them ("NVIDIA A100-SXM4-40GB")
    found_by: str = ""  # what gave it away, for messages and tests


# --------------------------------------------------------------------------- the probe
def _read_small(path: Path, limit: int = 4096) -> str:
    try:
        with open(path, "rb") as fh:  # /proc and /sys files: regular, tiny, never block
            return fh.read(limit).decode("utf-8", "replace")
    except OSError:
        return ""


def _nvidia_from_proc() -> Accelerator | None:
    """The NVIDIA driver lists every GPU it drives here, with its model name."""
    try:
        gpus = sorted(p for p in NVIDIA_PROC.iterdir() if p.is_dir())
    except OSError:
        return None
    if not gpus:
        return None
    names = []
    for gpu in gpus:
        for line in _read_small(gpu / "information").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Model" and value.strip():
                names.append(value.strip())
    return Accelerator("nvidia", tuple(names), str(NVIDIA_PROC))


def _nvidia_from_dev() -> Accelerator | None:
    try:
        nodes = sorted(p.name for p in DEV.glob("nvidia[0-9]*"))
    except OSError:
        return None
    return Accelerator("nvidia", (), str(DEV / nodes[0])) if nodes else None


def _nvidia_from_smi() -> Accelerator | None:
    """``nvidia-smi -L`` prints "GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-…)" per GPU."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        proc = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT,
                              check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):  # includes TimeoutExpired: a hung driver is no GPU to us
        return None
    names = []
    for line in proc.stdout.splitlines():
        if proc.returncode == 0 and line.startswith("GPU ") and ":" in line:
            names.append(line.split(":", 1)[1].split("(UUID", 1)[0].strip())
    return Accelerator("nvidia", tuple(names), "nvidia-smi") if names else None


def _hidden(variable: str) -> bool:
    """CUDA_VISIBLE_DEVICES="" or "-1" (and the ROCm equivalents) hide every GPU from every framework."""
    value = os.environ.get(variable)
    return value is not None and value.strip() in ("", "-1")


@lru_cache(maxsize=1)
def probe_accelerator() -> Accelerator | None:
    """The machine's GPU, if any: NVIDIA (CUDA) or AMD (ROCm). Never imports a framework.

    Cached per process (``probe_accelerator.cache_clear()`` re-probes): hardware does not come
    and go between two runs, and ``nvidia-smi`` can take a second.
    """
    if not _hidden("CUDA_VISIBLE_DEVICES"):
        for find in (_nvidia_from_proc, _nvidia_from_dev, _nvidia_from_smi):
            found = find()
            if found is not None:
                return found
    if not (_hidden("HIP_VISIBLE_DEVICES") or _hidden("ROCR_VISIBLE_DEVICES")) and (DEV / "kfd").exists():
        return Accelerator("rocm", (), str(DEV / "kfd"))
    return None


# --------------------------------------------------------------------------- GPU builds
def installed_backends() -> set[str]:
    """The Keras backends whose framework is installed (found, not imported)."""
    return {name for name in FRAMEWORKS if importlib.util.find_spec(name) is not None}


def _version(distribution: str) -> str | None:
    import importlib.metadata  # 30 ms: only when a GPU was found

    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _module_with_prefix(prefixes: tuple[str, ...], package: str | None = None) -> bool:
    """A top-level module (or one inside namespace ``package``) whose name starts with a prefix;
    plugin names carry a version (jax_cuda12_plugin, jax_plugins.xla_cuda13), so match loosely."""
    import pkgutil

    if package is None:
        path = None
    else:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            return False
        if spec is None or spec.submodule_search_locations is None:
            return False
        path = list(spec.submodule_search_locations)
    return any(m.name.startswith(prefixes) for m in pkgutil.iter_modules(path))


def _jax_can_use(kind: AcceleratorKind) -> bool:
    """JAX needs a GPU plugin (``pip install 'jax[cuda12]'`` / ``jax[rocm]``) or an old jaxlib built for it."""
    gpu = "cuda" if kind == "nvidia" else "rocm"
    if _module_with_prefix((f"jax_{gpu}",)) or _module_with_prefix((f"xla_{gpu}",), "jax_plugins"):
        return True
    return gpu in (_version("jaxlib") or "")  # e.g. 0.4.20+cuda12.cudnn89


def _tensorflow_can_use(kind: AcceleratorKind) -> bool:
    """PyPI's ``tensorflow`` is built with CUDA on Linux (WSL2 included) and finds the CUDA libraries
    that ``tensorflow[and-cuda]`` installs (the ``nvidia-cudnn-cu12`` wheel, module ``nvidia.cudnn``),
    or a system cuDNN; ``tensorflow-cpu`` never uses a GPU. ROCm needs the ``tensorflow-rocm`` build."""
    if kind == "rocm":
        return _version("tensorflow-rocm") is not None
    if not sys.platform.startswith("linux") or _version("tensorflow-cpu") is not None:
        return False
    try:
        if importlib.util.find_spec("nvidia.cudnn") is not None:
            return True
    except (ImportError, ValueError):
        pass
    return _system_cudnn()


# Where distributions and NVIDIA's installers put cuDNN (ctypes.util.find_library would run ldconfig or gcc).
SYSTEM_LIB_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib",
                   "/usr/local/cuda/lib64", "/usr/local/lib")


def _system_cudnn() -> bool:
    dirs = [d for d in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep) if d] + list(SYSTEM_LIB_DIRS)
    for directory in dirs:
        try:
            if any(Path(directory).glob("libcudnn.so*")):
                return True
        except OSError:
            continue
    return False


def _torch_can_use(kind: AcceleratorKind) -> bool:
    """torch's version says its build: "+cpu", "+cu124", "+rocm6.2"; PyPI's plain Linux wheels are CUDA builds."""
    version = _version("torch") or ""
    if kind == "rocm":
        return "+rocm" in version
    if "+cu" in version:
        return True
    return "+" not in version and sys.platform.startswith(("linux", "win"))


_CAN_USE = {"jax": _jax_can_use, "tensorflow": _tensorflow_can_use, "torch": _torch_can_use}


@lru_cache(maxsize=4)
def accelerator_backends(accelerator: Accelerator | None) -> frozenset[str]:
    """The installed backends whose build can train on ``accelerator`` (cached: it only reads metadata)."""
    if accelerator is None:
        return frozenset()
    return frozenset(b for b in installed_backends() if _CAN_USE[b](accelerator.kind))


def auto_backend(installed: set[str], accelerator: Accelerator | None, *,
                 capable: set[str] | frozenset[str] | None = None) -> str:
    """The backend ``auto`` means: the fastest installed one that can use the GPU, else the fastest on CPU.

    The rule: with an accelerator, the first of ``SPEED_ORDER`` (jax, tensorflow, torch) that is
    installed and whose build can drive it (``capable``; by default ``accelerator_backends``, from
    the installed packages: a JAX CUDA/ROCm plugin, TensorFlow on Linux with the CUDA libraries,
    a CUDA/ROCm torch). Without one, or if no installed build can use it: jax, then tensorflow.
    TensorFlow is the answer when nothing is found, as it always was (it is a hard dependency).
    """
    if accelerator is not None:
        usable = accelerator_backends(accelerator) if capable is None else capable
        for backend in SPEED_ORDER:
            if backend in installed and backend in usable:
                return backend
    return next((b for b in CPU_ORDER if b in installed), "tensorflow")


# --------------------------------------------------------------------------- device names
def _jax_device() -> str | None:
    import jax  # already imported by Keras in the trainer process

    device = jax.devices()[0]  # the default backend's first device: where Keras puts arrays
    platform = str(getattr(device, "platform", "cpu")).lower()
    if platform == "cpu":
        return None
    kind = "TPU" if platform == "tpu" else "GPU"
    name = str(getattr(device, "device_kind", "") or platform)
    return f"{kind} {getattr(device, 'id', 0)}: {name}"


def _tensorflow_device() -> str | None:
    import tensorflow as tf  # already imported by Keras in the trainer process

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return None
    first = gpus[0]  # TensorFlow places ops on GPU:0 by default
    index = str(first.name).rsplit(":", 1)[-1]
    details = tf.config.experimental.get_device_details(first) or {}
    return f"GPU {index}: {details.get('device_name') or first.name}"


def _torch_device() -> str | None:
    import torch  # already imported by Keras in the trainer process

    keras_core = sys.modules.get("keras.src.backend.torch.core")
    device = str(getattr(keras_core, "DEFAULT_DEVICE", "") or "")
    if not device:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        index = torch.cuda.current_device()
        return f"GPU {index}: {torch.cuda.get_device_name(index)}"
    if device == "mps":
        return "GPU: Apple MPS"
    return None if device == "cpu" else device.upper()


_QUERIES = {"jax": _jax_device, "tensorflow": _tensorflow_device, "torch": _torch_device}


def device_name(backend: str) -> str:
    """Where a run trains: "JAX · CPU", "TensorFlow · GPU 0: NVIDIA A100-SXM4-40GB", "NumPy · CPU".

    Call it in the trainer process once Keras runs on ``backend``: it asks the framework (which
    that process has already imported), so it names the device training really uses, not the
    one the probe guessed. Any failure to ask reads as CPU, the framework's own fallback.
    """
    query = _QUERIES.get(backend)
    where = None
    if query is not None:
        try:
            where = query()
        except Exception:  # a framework that cannot list its devices is not using a GPU we can name
            where = None
    return f"{LABELS.get(backend, backend)} · {where or 'CPU'}"
