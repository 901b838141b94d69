"""augbench in a plain PyTorch training loop on CIFAR-10.

A standard ``DataLoader`` delivers uint8 images with their dataset indices (workers only
collate); :class:`augbench.loader.BatchAugment` augments each batch on the training device with
keyed per-sample draws (RandAugment per image, then per-sample CutMix) and normalises it. The
evaluation pipeline is ``create_pipeline(32, train=False)``.

    python examples/cifar10_loop.py --data-root ../shared/data/cifar10 --epochs 5
    python examples/cifar10_loop.py --device cuda --workers 4     # on a GPU machine

Reads the CIFAR-10 binary files (``data_batch_*.bin``, ``test_batch*.bin``); nothing is
downloaded.
"""

from __future__ import annotations

import argparse
import os
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

from augbench.data import load_dataset
from augbench.loader import BatchAugment, IndexedDataset, create_pipeline
from augbench.mix import CutMix
from augbench.models import ConvNet

CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_root = os.path.join(os.environ.get("AUGBENCH_DATA", "../shared/data"), "cifar10")
    parser.add_argument("--data-root", default=default_root, help=f"CIFAR-10 binary folder (default {default_root})")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images only (a quick check)")
    parser.add_argument("--policy", default="rand-m9-mstd0.5-inc1", help="policy string of the training pipeline")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    train, test = (load_dataset("cifar10", root=args.data_root, split=split) for split in ("train", "test"))
    count = len(train.labels) if args.limit is None else min(args.limit, len(train.labels))
    dataset = IndexedDataset(TensorDataset(train.inputs[:count], train.labels[:count]))
    loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=True, num_workers=args.workers,
                        pin_memory=device.type == "cuda", drop_last=False)
    augment = BatchAugment(
        create_pipeline(32, policy=args.policy, scale=(0.35, 1.0), mean=CIFAR_MEAN, std=CIFAR_STD),
        num_samples=len(dataset), seed=args.seed, mixer=CutMix(num_classes=10), device=device,
    )
    evaluate = create_pipeline(32, train=False, crop_pct=1.0, mean=CIFAR_MEAN, std=CIFAR_STD)

    model = ConvNet(in_channels=3, num_classes=10, image_size=(32, 32)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4, nesterov=True)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs * len(loader))
    for epoch in range(args.epochs):
        augment.set_epoch(epoch)
        model.train()
        started, total_loss = time.perf_counter(), 0.0
        for images, labels, indices in loader:
            inputs, targets = augment(images, labels, indices)
            loss = torch.sum(-targets * model(inputs).log_softmax(dim=1), dim=1).mean()  # soft-target CE
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total_loss += float(loss) * len(labels)
        model.eval()
        with torch.no_grad():
            logits = model(evaluate(test.inputs.to(device)))
            accuracy = float((logits.argmax(1).cpu() == test.labels).float().mean())
        print(f"epoch {epoch}: train loss {total_loss / count:.3f}, test accuracy {100 * accuracy:.2f} % "
              f"({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
