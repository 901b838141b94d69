"""Images/s of augbench and peer libraries on the CPU (``make bench``).

Workload: ``RandomResizedCrop(size)`` with the default scale (0.08, 1) and ratio (3/4, 4/3),
output size = input size, then a horizontal flip with p = 0.5, on uint8 batches. Every peer is
optional; a missing one prints "not installed". Add a workload by declaring its candidates
below and appending it to ``WORKLOADS``.
"""

from __future__ import annotations

import torch

from _harness import AUGBENCH, PER_SAMPLE, SHARED, Candidate, Step, Workload, main

PEERS = ("torchvision", "kornia", "albumentations", "cv2")


def augbench_rrc_flip(size: int, channels_last: bool = False) -> Candidate:
    def build(images: torch.Tensor) -> Step:
        import augbench as ab

        pipeline = ab.Compose([ab.RandomResizedCrop(size), ab.HorizontalFlip(p=0.5)])
        generator = torch.Generator().manual_seed(0)
        batch = images.contiguous(memory_format=torch.channels_last) if channels_last else images
        return lambda: pipeline(batch, generator=generator)

    if channels_last:
        note = "the same batch stored channels-last (NHWC memory, like albumentations' HWC arrays), converted before timing"
        return Candidate(f"{AUGBENCH} (channels_last batch)", PER_SAMPLE, build, ("augbench",), note)
    return Candidate(AUGBENCH, PER_SAMPLE, build, ("augbench",), "one batched call on the NCHW batch, uint8 in and out")


def _torchvision_pipeline(size: int):
    from torchvision.transforms import v2

    torch.manual_seed(0)
    return v2.Compose([v2.RandomResizedCrop(size, antialias=True), v2.RandomHorizontalFlip(p=0.5)])


def torchvision_loop_rrc_flip(size: int) -> Candidate:
    def build(images: torch.Tensor) -> Step:
        pipeline = _torchvision_pipeline(size)
        return lambda: torch.stack([pipeline(image) for image in images])

    note = "v2.Compose applied to each (C, H, W) uint8 image, then torch.stack"
    return Candidate("torchvision v2 (per-sample loop)", PER_SAMPLE, build, ("torchvision",), note)


def torchvision_batched_rrc_flip(size: int) -> Candidate:
    def build(images: torch.Tensor) -> Step:
        pipeline = _torchvision_pipeline(size)
        return lambda: pipeline(images)

    note = "v2.Compose on the whole batch: one crop and one flip decision for all images"
    return Candidate("torchvision v2 (batched call)", SHARED, build, ("torchvision",), note)


def kornia_rrc_flip(size: int) -> Candidate:
    def build(images: torch.Tensor) -> Step:
        import kornia.augmentation as K

        torch.manual_seed(0)
        pipeline = torch.nn.Sequential(K.RandomResizedCrop((size, size)), K.RandomHorizontalFlip(p=0.5))

        def step() -> torch.Tensor:
            with torch.no_grad():
                augmented = pipeline(images.float().div_(255))
            return augmented.mul_(255).round_().to(torch.uint8)

        return step

    note = "needs float input: the uint8 -> float [0, 1] -> uint8 conversions are included"
    return Candidate("kornia (batched)", PER_SAMPLE, build, ("kornia",), note)


def albumentations_rrc_flip(size: int) -> Candidate:
    def build(images: torch.Tensor) -> Step:
        import albumentations as A
        import numpy as np

        pipeline = A.Compose([A.RandomResizedCrop(size=(size, size)), A.HorizontalFlip(p=0.5)], seed=0)
        arrays = [np.ascontiguousarray(image.permute(1, 2, 0).numpy()) for image in images]
        return lambda: [pipeline(image=array)["image"] for array in arrays]

    note = (
        "loop over (H, W, C) uint8 numpy arrays (OpenCV kernels, OpenCV's default threads); the NCHW "
        "tensor <-> HWC array layout conversion is EXCLUDED (done once before timing; the outputs stay "
        "a list of HWC arrays)"
    )
    return Candidate("albumentations (per-sample loop)", PER_SAMPLE, build, ("albumentations", "numpy"), note)


def rrc_flip(batch_size: int, size: int) -> Workload:
    candidates = [
        augbench_rrc_flip(size),
        augbench_rrc_flip(size, channels_last=True),
        torchvision_loop_rrc_flip(size),
        torchvision_batched_rrc_flip(size),
        kornia_rrc_flip(size),
        albumentations_rrc_flip(size),
    ]
    return Workload(f"RandomResizedCrop({size}) + HorizontalFlip(p=0.5)", (batch_size, 3, size, size), candidates)


WORKLOADS = [rrc_flip(512, 32), rrc_flip(64, 224)]

if __name__ == "__main__":
    main(WORKLOADS, PEERS)
