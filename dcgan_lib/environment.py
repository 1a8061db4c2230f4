"""What the course runs on: versions, the device found, and whether we are on Colab."""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from pathlib import Path

import torch

from . import __version__
from .device import pick_device

PACKAGES = ("torch", "torchvision", "numpy", "matplotlib", "ipywidgets", "scikit-learn", "tqdm", "papermill")


def on_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules


def enable_colab_widgets() -> None:
    """On Colab, turn on its custom widget manager, which draws ipywidgets' sliders and images in the output
    (Colab's built-in one covers fewer widgets); elsewhere do nothing. (Returns nothing, so that the last line
    of a notebook cell prints nothing.)"""
    if on_colab():
        from google.colab import output

        output.enable_custom_widget_manager()


DRIVE = Path("/content/drive")  # where Colab mounts Google Drive


def runs_folder(path: str | Path) -> Path:
    """The folder a notebook's training runs write to, created if missing. On Colab, a path under
    /content/drive mounts Google Drive first, so checkpoints there outlive a disconnected runtime."""
    path = Path(path)
    if on_colab() and DRIVE in path.parents and not (DRIVE / "MyDrive").is_dir():
        from google.colab import drive

        drive.mount(str(DRIVE))  # asks the user to allow access, once per runtime
    path.mkdir(parents=True, exist_ok=True)
    return path


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
    found = {"python": platform.python_version(), "dcgan_lib": __version__}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "missing"
    return found


def device_report() -> dict[str, str]:
    """The device training will pick, with its name and memory when it is a GPU."""
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
