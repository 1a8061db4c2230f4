"""What the course runs on: versions, the device found, and whether we are on Colab."""

from __future__ import annotations

import importlib.metadata
import platform
import sys

import torch

PACKAGES = ("torch", "torchvision", "numpy", "matplotlib", "ipywidgets", "scikit-learn", "tqdm", "papermill")


def on_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules


def cpu_name() -> str:
    """The processor's model name (Linux), else what the platform module knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict[str, str]:
    """Python, dcgan_lib and the installed versions of the packages the course uses ('missing' if absent)."""
    from . import __version__

    found = {"python": platform.python_version(), "dcgan_lib": __version__}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "missing"
    return found


def device_report() -> dict[str, str]:
    """The device training will pick, with its name and memory when it is a GPU."""
    from .train import pick_device

    device = pick_device("auto")
    info = {"device": str(device), "cpu_threads": str(torch.get_num_threads())}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.update(gpu=props.name, gpu_memory_gb=f"{props.total_memory / 2**30:.1f}", bf16=str(torch.cuda.is_bf16_supported()))
    return info


def report() -> str:
    """A short printable table of versions and device, with the fix when training would run on a CPU in Colab."""
    rows = {**versions(), **device_report()}
    width = max(map(len, rows))
    lines = [f"{k:<{width}}  {v}" for k, v in rows.items()]
    if on_colab() and rows["device"] == "cpu":
        lines.append("No GPU: in Colab choose Runtime > Change runtime type > T4 GPU, then run the notebook again.")
    return "\n".join(lines)
