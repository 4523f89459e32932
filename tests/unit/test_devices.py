"""mnist_tui.devices: the accelerator probe, the `auto` backend rule and the device names.

This machine has no GPU: the GPU cases fake the probe's files, its `nvidia-smi` call and the
frameworks' device queries. Two subprocesses ask the real JAX and TensorFlow (seconds each).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from mnist_tui import devices
from mnist_tui.devices import Accelerator, auto_backend, device_name, installed_backends, probe_accelerator
from tests.conftest import REPO_ROOT

NVIDIA = Accelerator("nvidia", ("NVIDIA A100-SXM4-40GB",), "test")
ROCM = Accelerator("rocm", (), "test")
HAS_JAX = importlib.util.find_spec("jax") is not None


@pytest.fixture
def no_gpu_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Empty /proc and /dev stand-ins, no nvidia-smi, no GPU-hiding variables; a fresh probe cache."""
    proc, dev = tmp_path / "proc-nvidia-gpus", tmp_path / "dev"
    dev.mkdir()
    monkeypatch.setattr(devices, "NVIDIA_PROC", proc)
    monkeypatch.setattr(devices, "DEV", dev)
    monkeypatch.setattr(devices.shutil, "which", lambda name: None)
    for var in ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"):
        monkeypatch.delenv(var, raising=False)
    probe_accelerator.cache_clear()
    devices.accelerator_backends.cache_clear()
    yield tmp_path
    probe_accelerator.cache_clear()
    devices.accelerator_backends.cache_clear()


# --------------------------------------------------------------------------- this machine
def test_this_cpu_machine_has_no_accelerator_and_auto_is_jax() -> None:
    if any(os.path.exists(p) for p in ("/proc/driver/nvidia/gpus", "/dev/nvidia0", "/dev/kfd")):
        pytest.skip("this machine has a GPU")
    probe_accelerator.cache_clear()
    code = ("import sys; from mnist_tui import devices as d; a = d.probe_accelerator(); "
            "print(a, d.auto_backend(d.installed_backends(), a)); "
            "assert not {'tensorflow', 'jax', 'torch', 'keras'} & set(sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
                          check=False, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert proc.returncode == 0, proc.stderr  # and the probe imported no framework
    assert proc.stdout.split() == ["None", "jax" if HAS_JAX else "tensorflow"]


# The real frameworks' answers ("JAX · CPU" on this machine) are checked where a real trainer
# prints them: tests/unit/test_cli_open_serve.py::test_default_backend_is_auto_and_the_run_records_what_ran.


# --------------------------------------------------------------------------- the probe, faked
def test_probe_reads_nvidia_proc_with_model_names(no_gpu_files: Path) -> None:
    gpu = devices.NVIDIA_PROC / "0000:00:04.0"
    gpu.mkdir(parents=True)
    (gpu / "information").write_text("Model: \t\t NVIDIA A100-SXM4-40GB\nIRQ:   \t\t 38\nBus Type: \t PCIe\n")
    found = probe_accelerator()
    assert found == Accelerator("nvidia", ("NVIDIA A100-SXM4-40GB",), str(devices.NVIDIA_PROC))


def test_probe_finds_nvidia_device_nodes(no_gpu_files: Path) -> None:
    (devices.DEV / "nvidiactl").touch()  # the control node alone is not a GPU
    assert probe_accelerator() is None
    probe_accelerator.cache_clear()
    (devices.DEV / "nvidia0").touch()
    found = probe_accelerator()
    assert found is not None and found.kind == "nvidia" and found.found_by.endswith("nvidia0")


def test_probe_asks_nvidia_smi_last_with_a_timeout(no_gpu_files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[list[str], float]] = []

    def fake_run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append((cmd, float(kwargs["timeout"])))  # type: ignore[arg-type]
        out = "GPU 0: Tesla T4 (UUID: GPU-2b7d…)\nGPU 1: Tesla T4 (UUID: GPU-9c1e…)\n"
        return subprocess.CompletedProcess(cmd, 0, out, "")

    monkeypatch.setattr(devices.shutil, "which", lambda name: "/usr/bin/nvidia-smi")
    monkeypatch.setattr(devices.subprocess, "run", fake_run)
    assert probe_accelerator() == Accelerator("nvidia", ("Tesla T4", "Tesla T4"), "nvidia-smi")
    assert calls == [(["/usr/bin/nvidia-smi", "-L"], devices.NVIDIA_SMI_TIMEOUT)]
    assert devices.NVIDIA_SMI_TIMEOUT <= 3


@pytest.mark.parametrize("failure", ["timeout", "exit 9", "not runnable"])
def test_a_failing_nvidia_smi_means_no_gpu(failure: str, no_gpu_files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        if failure == "timeout":
            raise subprocess.TimeoutExpired(cmd, 2.0)
        if failure == "not runnable":
            raise PermissionError(13, "Permission denied")
        return subprocess.CompletedProcess(cmd, 9, "NVIDIA-SMI has failed because it couldn't communicate", "")

    monkeypatch.setattr(devices.shutil, "which", lambda name: "/usr/bin/nvidia-smi")
    monkeypatch.setattr(devices.subprocess, "run", fake_run)
    assert probe_accelerator() is None


def test_probe_finds_rocm_and_respects_hidden_gpus(no_gpu_files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (devices.DEV / "kfd").touch()
    assert probe_accelerator() == Accelerator("rocm", (), str(devices.DEV / "kfd"))
    (devices.DEV / "nvidia0").touch()
    probe_accelerator.cache_clear()
    assert probe_accelerator().kind == "nvidia"  # type: ignore[union-attr]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")  # the user hid the NVIDIA GPUs from every framework
    probe_accelerator.cache_clear()
    assert probe_accelerator().kind == "rocm"  # type: ignore[union-attr]
    monkeypatch.setenv("HIP_VISIBLE_DEVICES", "")
    probe_accelerator.cache_clear()
    assert probe_accelerator() is None


# --------------------------------------------------------------------------- the auto rule
@pytest.mark.parametrize(("installed", "accelerator", "capable", "expected"), [
    ({"jax", "tensorflow"}, None, None, "jax"),  # CPU: the fastest there
    ({"tensorflow"}, None, None, "tensorflow"),
    (set(), None, None, "tensorflow"),
    ({"jax", "tensorflow", "torch"}, None, None, "jax"),  # torch is never the CPU default
    ({"jax", "tensorflow"}, NVIDIA, {"tensorflow"}, "tensorflow"),  # TensorFlow on a GPU beats JAX on a CPU
    ({"jax", "tensorflow"}, NVIDIA, {"jax", "tensorflow"}, "jax"),
    ({"jax", "tensorflow", "torch"}, NVIDIA, {"torch"}, "torch"),
    ({"jax", "tensorflow"}, NVIDIA, set(), "jax"),  # a GPU no installed build can use: CPU rule
    ({"jax", "tensorflow"}, NVIDIA, {"torch"}, "jax"),  # capable but not installed
    ({"jax", "tensorflow"}, ROCM, {"jax"}, "jax"),
])
def test_auto_backend_rule(installed: set[str], accelerator: Accelerator | None, capable: set[str] | None,
                           expected: str) -> None:
    assert auto_backend(installed, accelerator, capable=capable) == expected


def _fake_package(root: Path, dotted: str) -> None:
    package = root.joinpath(*dotted.split("."))
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    importlib.invalidate_caches()


def test_gpu_builds_are_read_from_installed_packages(no_gpu_files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On this machine nothing can drive a GPU; a JAX CUDA plugin, the pip CUDA libraries or a CUDA
    torch change that, each found without importing anything heavy."""
    site = no_gpu_files / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(devices, "SYSTEM_LIB_DIRS", ())
    monkeypatch.delenv("LD_LIBRARY_PATH", raising=False)
    monkeypatch.setattr(devices, "installed_backends", lambda: {"jax", "tensorflow", "torch"})
    versions = {"jaxlib": "0.10.2", "torch": "2.5.1+cpu"}
    monkeypatch.setattr(devices, "_version", versions.get)
    monkeypatch.setattr(devices.sys, "platform", "linux")

    def capable(accelerator: Accelerator) -> frozenset[str]:
        devices.accelerator_backends.cache_clear()
        return devices.accelerator_backends(accelerator)

    assert capable(NVIDIA) == frozenset()
    assert auto_backend({"jax", "tensorflow", "torch"}, NVIDIA) == "jax"
    _fake_package(site, "nvidia.cudnn")  # what `pip install 'tensorflow[and-cuda]'` brings
    assert capable(NVIDIA) == {"tensorflow"}
    assert auto_backend({"jax", "tensorflow", "torch"}, NVIDIA) == "tensorflow"
    _fake_package(site, "jax_cuda12_plugin")  # `pip install 'jax[cuda12]'`
    assert capable(NVIDIA) == {"jax", "tensorflow"}
    versions["torch"] = "2.5.1+cu124"
    assert capable(NVIDIA) == {"jax", "tensorflow", "torch"}
    assert capable(ROCM) == frozenset()
    versions.update(torch="2.5.1+rocm6.2", jaxlib="0.4.20+rocm60")
    assert capable(ROCM) == {"jax", "torch"}
    assert devices.accelerator_backends(None) == frozenset()


def test_installed_backends_finds_without_importing() -> None:
    found = installed_backends()
    assert found <= {"jax", "tensorflow", "torch"} and "tensorflow" in found
    assert ("jax" in found) == HAS_JAX


# --------------------------------------------------------------------------- device names, faked
def test_jax_gpu_name(monkeypatch: pytest.MonkeyPatch) -> None:
    gpu = types.SimpleNamespace(platform="gpu", id=0, device_kind="NVIDIA A100-SXM4-40GB")
    monkeypatch.setitem(sys.modules, "jax", types.SimpleNamespace(devices=lambda: [gpu]))
    assert device_name("jax") == "JAX · GPU 0: NVIDIA A100-SXM4-40GB"
    cpu = types.SimpleNamespace(platform="cpu", id=0, device_kind="cpu")
    monkeypatch.setitem(sys.modules, "jax", types.SimpleNamespace(devices=lambda: [cpu]))
    assert device_name("jax") == "JAX · CPU"


def test_tensorflow_gpu_name(monkeypatch: pytest.MonkeyPatch) -> None:
    gpu = types.SimpleNamespace(name="/physical_device:GPU:0", device_type="GPU")
    config = types.SimpleNamespace(
        list_physical_devices=lambda kind: [gpu] if kind == "GPU" else [],
        experimental=types.SimpleNamespace(get_device_details=lambda d: {"device_name": "NVIDIA A100",
                                                                          "compute_capability": (8, 0)}),
    )
    monkeypatch.setitem(sys.modules, "tensorflow", types.SimpleNamespace(config=config))
    assert device_name("tensorflow") == "TensorFlow · GPU 0: NVIDIA A100"


def test_torch_gpu_name(monkeypatch: pytest.MonkeyPatch) -> None:
    cuda = types.SimpleNamespace(is_available=lambda: True, current_device=lambda: 0,
                                 get_device_name=lambda i: "NVIDIA GeForce RTX 4090")
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=cuda))
    monkeypatch.delitem(sys.modules, "keras.src.backend.torch.core", raising=False)
    assert device_name("torch") == "PyTorch · GPU 0: NVIDIA GeForce RTX 4090"


def test_device_name_falls_back_to_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> list[object]:
        raise RuntimeError("Unable to initialize backend 'cuda'")

    monkeypatch.setitem(sys.modules, "jax", types.SimpleNamespace(devices=broken))
    assert device_name("jax") == "JAX · CPU"
    assert device_name("numpy") == "NumPy · CPU"
