"""One interface over every dataset the course trains on: `load_data(name)` -> `ImageData`.

Datasets that fit in memory (procedural faces, digits, MNIST-sized) are held as one uint8 tensor on the
training device and batched there: no DataLoader, no host-to-device copy per step. Larger ones (CelebA,
LSUN, an image folder) stream through a DataLoader with workers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from . import datasets, streaming
from .errors import DatasetError
from .faces import make_faces
from .images import check_image_size, to_model_range

DATASETS = ("faces", *datasets.IN_MEMORY, *streaming.STREAMING)
GENERATED_OR_BUNDLED = ("faces", "digits")  # need no --data-root: drawn by `faces`, or shipped with scikit-learn


def reads_data_root(name: str) -> bool:
    """Whether dataset `name` is read from files under a --data-root (all but the faces and the digits)."""
    return datasets.norm_name(name) not in GENERATED_OR_BUNDLED


@dataclass
class ImageData:
    """A training set: in memory (`images`, uint8 (N, C, S, S)) or streaming (`dataset` of uint8 items).

    `labels` (N,) and `attributes` (name -> (N,)) are kept when the source has them.
    """

    name: str
    image_size: int
    channels: int
    images: torch.Tensor | None = None
    dataset: Dataset | None = None
    labels: torch.Tensor | None = None
    attributes: dict[str, torch.Tensor] = field(default_factory=dict)
    num_workers: int = 2

    def __len__(self) -> int:
        return len(self.images) if self.images is not None else len(self.dataset)  # type: ignore[arg-type]

    @property
    def in_memory(self) -> bool:
        return self.images is not None

    def to(self, device: torch.device | str) -> "ImageData":
        """Move the in-memory images to `device` (once, before training)."""
        if self.images is not None:
            self.images = self.images.to(device)
        return self

    def steps_per_epoch(self, batch_size: int) -> int:
        return len(self) // batch_size  # the last, smaller batch is dropped: BatchNorm dislikes tiny batches

    def batches(self, batch_size: int, epoch: int, seed: int, device: torch.device | str, skip: int = 0,
                rank: int = 0, world_size: int = 1) -> Iterator[torch.Tensor]:
        """The batches of one epoch as float images in [-1, 1] on `device`, (B, C, S, S).

        The order is a function of (seed, epoch) alone, so a resumed run sees the same batches;
        `skip` drops the first batches of the epoch (those done before the interruption). With `world_size`
        processes, `batch_size` is the global batch and process `rank` gets its slice of each one,
        (B / world_size, C, S, S): together the processes see exactly the batches one process would.
        """
        if batch_size % world_size:
            raise DatasetError(f"a batch of {batch_size} does not split evenly over {world_size} processes: "
                               f"use a --batch-size that is a multiple of {world_size}")
        per_rank = batch_size // world_size
        order = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
        n = self.steps_per_epoch(batch_size)
        # (steps, B) -> this process's columns of the steps still to do, (steps - skip, B / world_size)
        order = order[: n * batch_size].view(n, batch_size)[skip:, rank * per_rank : (rank + 1) * per_rank]
        if self.images is not None:
            order = order.to(self.images.device)
            for index in order:
                yield to_model_range(self.images[index]).to(device, non_blocking=True)
            return
        loader = DataLoader(
            self.dataset, batch_size=per_rank, sampler=order.flatten().tolist(), num_workers=self.num_workers,  # type: ignore[arg-type]
            pin_memory=torch.device(device).type == "cuda", drop_last=True, persistent_workers=False,
            generator=torch.Generator().manual_seed(seed * 100_003 + epoch),  # worker seeds from (seed, epoch), not the global RNG
        )
        for images, _ in loader:
            yield to_model_range(images.to(device, non_blocking=True))


def load_data(
    name: str = "faces",
    image_size: int = 32,
    n: int = 20_000,
    seed: int = 0,
    root: str | Path = "data",
    download: bool = False,
    channels: int | None = None,
) -> ImageData:
    """Load a training set by name (see `DATASETS`); `n` and `seed` apply to the procedural faces.

    Real datasets are looked for under `root/<name>`; `download=True` tries torchvision's download.
    """
    check_image_size(image_size)
    if name == "faces" and channels not in (None, 3):
        raise DatasetError(f"--channels {channels} applies to real datasets: the procedural faces are RGB")
    if name == "faces":
        faces = make_faces(n, image_size, seed=seed)
        attrs = {k: v for k, v in faces.attributes.items() if not k.startswith("_")}
        return ImageData(name, image_size, 3, images=faces.images, attributes=attrs)
    if name in datasets.IN_MEMORY:
        images, labels = datasets.load_in_memory(name, Path(root) / name, image_size, download=download, channels=channels)
        return ImageData(name, image_size, images.shape[1], images=images, labels=labels)
    if name in streaming.STREAMING:
        # a folder dataset is the folder itself; the others live in <root>/<name>
        where = Path(root) if name == "folder" else Path(root) / name
        ds = streaming.open_streaming(name, where, image_size, download=download, channels=channels)
        first, _ = ds[0]
        return ImageData(name, image_size, first.shape[0], dataset=ds)
    raise DatasetError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}")
