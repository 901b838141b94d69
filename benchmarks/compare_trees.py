"""Time augbench's kernels, policies and mixers of one code tree, to compare two trees in one run.

    git worktree add /tmp/before <old commit>
    for i in 1 2 3; do
      .venv/bin/python benchmarks/compare_trees.py /tmp/before 1 > old_$i.json
      .venv/bin/python benchmarks/compare_trees.py "$PWD" 1 > new_$i.json
    done

argv: the tree's root (its ``augbench`` package is imported, not the installed one) and the
torch thread count; prints JSON ``{workload: median seconds}`` (uint8 512x3x32x32 and
64x3x224x224). Interleave the runs and take the minimum over rounds: on a shared machine single
figures move by +-20 %.
"""
import sys, json, time
root = sys.argv[1]
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in type(f).__name__.lower() and "editable" not in str(getattr(f, "__module__", ""))]
sys.path.insert(0, root)
import torch
torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
import augbench
assert augbench.__file__.startswith(root), augbench.__file__
import augbench as ab
import augbench.functional as F
from augbench.mix import CutMix, Mixup

def timeit(fn, n):
    for _ in range(2): fn()
    ts = []
    for _ in range(n):
        s = time.perf_counter(); fn(); ts.append(time.perf_counter() - s)
    ts.sort(); return ts[len(ts)//2]

out = {}
for B, S, n in ((512, 32, 15), (64, 224, 7)):
    x = torch.randint(0, 256, (B, 3, S, S), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    keys = torch.arange(B); g = lambda: torch.Generator().manual_seed(1)
    ang = torch.linspace(-30, 30, B)
    cases = {
        "resize_half": lambda: F.resize(x, [S // 2, S // 2]),
        "resized_crop": lambda: F.resized_crop(x, 2, 3, S - 6, S - 5, [S, S]),
        "rotate_nearest": lambda: F.rotate(x, ang),
        "rotate_bilinear": lambda: F.rotate(x, ang, interpolation="bilinear"),
        "affine_shear": lambda: F.affine(x, angle=0.0, translate=[0, 0], scale=1.0, shear=[10.0, 0.0]),
        "adjust_brightness": lambda: F.adjust_brightness(x, 1.3),
        "adjust_contrast": lambda: F.adjust_contrast(x, 1.3),
        "equalize": lambda: F.equalize(x),
        "gaussian_blur": lambda: F.gaussian_blur(x, 3, 1.0),
        "RandAugment": lambda: ab.RandAugment(num_ops=2, magnitude=9)(x, g()),
        "TrivialAugmentWide": lambda: ab.TrivialAugmentWide()(x, g()),
        "AutoAugment": lambda: ab.AutoAugment()(x, g()),
        "AugMix": lambda: ab.AugMix()(x, g()),
        "RRC+flip": lambda: ab.Compose([ab.RandomResizedCrop(S), ab.HorizontalFlip()])(x, g()),
        "RandomAffine": lambda: ab.RandomAffine(degrees=15, translate=(0.1, 0.1), shear=10.0)(x, g()),
        "CutMix": lambda: CutMix(10)(x, keys % 10, generator=g()),
        "Mixup": lambda: Mixup(10)(x.float() / 255, keys % 10, generator=g()),
    }
    for name, fn in cases.items():
        try:
            out[f"{name} {B}x{S}"] = timeit(fn, n)
        except Exception as e:
            out[f"{name} {B}x{S}"] = f"ERR {type(e).__name__}: {str(e)[:80]}"
print(json.dumps(out))
