"""Kernel conformance: augbench.functional against torchvision.transforms.v2.functional and Pillow.

Every call of :data:`kernel_cases.CASES` runs on real images at several shapes and dtypes, once
through each library; a call augbench refuses is a row with the error, not a crash. Four tables:
torchvision, Pillow, edge inputs (unbatched, extra leading dims, empty batches; torchvision as
the oracle) and per-sample parameters (a ``(B,)`` tensor against a loop of scalar calls).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import augbench.functional as AF
import torch
import torchvision.transforms.v2.functional as TF
from torch import Tensor

from images import as_dtype, pil_map
from kernel_cases import CASES, NO_PILLOW, PER_SAMPLE, SEED, Call, Case, PerSample, PilOp, Range
from report import CLOSE, DIFFERENT, EXACT, NOT_COVERED, ORACLE_ERROR, REFUSED, Row, Table, one_line

__all__ = ["shared_kernels", "kernel_tables", "COLUMNS"]

COLUMNS = ("kernel", "arguments", "oracle", "input", "accepted", "identical px %", "max |d|", "mean |d|")
LEGEND = (
    "differences in 8-bit levels (float32 x 255); identical px = pixels equal in every channel; "
    f"{EXACT}: all identical; {CLOSE}: max |d| <= 1 level (uint8) or <= 0.25 level (float32); "
    f"accepted: augbench ran torchvision's call"
)
TOLERANCE = {torch.uint8: 1.0, torch.float32: 0.25}
DTYPES = (torch.uint8, torch.float32)


def shared_kernels() -> list[str]:
    """augbench.functional kernels that torchvision.transforms.v2.functional also has, by name."""
    return [name for name in AF.__all__ if callable(getattr(TF, name, None))]


def describe_input(images: Tensor, form: str = "") -> str:
    """``"uint8 64x3x32x32"`` plus the input form, e.g. ``"(unbatched)"``."""
    dtype = str(images.dtype).replace("torch.", "")
    return f"{dtype} {'x'.join(str(size) for size in images.shape)}{f' ({form})' if form else ''}"


def compare(got: Any, expected: Tensor) -> tuple[str, dict[str, Any], str]:
    """Status, figures and note of augbench's output against the oracle's."""
    if not isinstance(got, Tensor):
        return DIFFERENT, {}, f"returned {type(got).__name__}, not a tensor"
    if got.shape != expected.shape:
        return DIFFERENT, {}, f"shape {tuple(got.shape)}, oracle {tuple(expected.shape)}"
    if got.dtype != expected.dtype:
        return DIFFERENT, {}, f"dtype {got.dtype}, oracle {expected.dtype}"
    if got.numel() == 0:
        return EXACT, {"identical_pixels_pct": None, "max_abs": 0.0, "mean_abs": 0.0}, "empty output, same shape and dtype"
    scale = 1.0 if expected.dtype == torch.uint8 else 255.0
    difference = (got.double() - expected.double()).abs() * scale
    same_pixel = (got == expected).all(dim=-3) if got.ndim >= 3 else got == expected
    figures = {
        "identical_pixels_pct": 100.0 * same_pixel.double().mean().item(),
        "max_abs": difference.max().item(),
        "mean_abs": difference.mean().item(),
    }
    if figures["max_abs"] == 0:
        return EXACT, figures, ""
    return (CLOSE if figures["max_abs"] <= TOLERANCE.get(expected.dtype, 0.0) else DIFFERENT), figures, ""


def _cells(kernel: str, arguments: str, oracle: str, images: Tensor, form: str, accepted: str, figures: dict[str, Any]) -> tuple[str, ...]:
    pct, largest, mean = figures.get("identical_pixels_pct"), figures.get("max_abs"), figures.get("mean_abs")
    return (
        kernel, arguments, oracle, describe_input(images, form), accepted,
        "" if pct is None else f"{pct:.2f}",
        "" if largest is None else f"{largest:.3g}",
        "" if mean is None else f"{mean:.3g}",
    )  # fmt: skip


def _invoke(function: Callable[..., Any], images: Tensor, call: Call, seeded: bool) -> Any:
    if seeded:
        torch.manual_seed(SEED)
    args, kwargs = call
    return function(images, *args, **kwargs)


def check(kernel: str, arguments: str, oracle: str, images: Tensor, form: str, run_oracle: Callable[[], Any], run_augbench: Callable[[], Any]) -> Row:
    """One row: run the oracle, then augbench; an exception of either is reported in the row, and
    so is an augbench call that writes into its input (which is then restored for the next rows)."""
    try:
        expected = run_oracle()
    except Exception as error:  # noqa: BLE001 - a failing oracle is a row, not a crash
        return Row(_cells(kernel, arguments, oracle, images, form, "", {}), ORACLE_ERROR, one_line(error))
    original = images.clone()
    try:
        got = run_augbench()
    except Exception as error:  # noqa: BLE001 - a refused call is the finding
        return Row(_cells(kernel, arguments, oracle, images, form, "no", {}), REFUSED, one_line(error))
    finally:
        modified = not torch.equal(images, original)
        images.copy_(original)
    status, figures, note = compare(got, expected)
    if modified:
        status, note = DIFFERENT, "augbench modified its input in place"
    return Row(_cells(kernel, arguments, oracle, images, form, "yes", figures), status, note, figures)


def _augbench_call(case: Case, images: Tensor) -> Call:
    return (case.augbench_call or case.call)(images)


def _against_torchvision(case: Case, images: Tensor, form: str = "") -> Row:
    return check(
        case.kernel, case.label, "torchvision", images, form,
        lambda: _invoke(getattr(TF, case.kernel), images, case.call(images), case.seeded),
        lambda: _invoke(getattr(AF, case.kernel), images, _augbench_call(case, images), case.seeded),
    )  # fmt: skip


def _against_pillow(case: Case, pil: PilOp, images: Tensor) -> Row:
    return check(
        case.kernel, case.label, case.pil_label, images, "",
        lambda: pil_map(images, pil),
        lambda: _invoke(getattr(AF, case.kernel), images, _augbench_call(case, images), case.seeded),
    )  # fmt: skip


def torchvision_table(inputs: dict[str, Tensor]) -> Table:
    """Every shared kernel's cases at every shape and dtype, against torchvision."""
    table = Table("kernels vs torchvision", COLUMNS, legend=LEGEND, key_cells=3)
    covered = {case.kernel for case in CASES}
    for name in shared_kernels():
        if name not in covered:
            table.rows.append(Row((name, "", "torchvision", "", "", "", "", ""), NOT_COVERED, "no conformance case for this kernel yet"))
    for case in CASES:
        if not case.torchvision:
            continue
        for images in inputs.values():
            for dtype in DTYPES:
                table.rows.append(_against_torchvision(case, as_dtype(images, dtype)))
    return table


def pillow_table(inputs: dict[str, Tensor]) -> Table:
    """Every case with a Pillow op, on uint8 images at every shape; plus why the others have none."""
    table = Table("kernels vs Pillow", COLUMNS, legend=LEGEND + "; augbench-only kernels (shear_x, ...) take augbench's own call", key_cells=3)
    for kernel, arguments, reason in NO_PILLOW:
        table.rows.append(Row((kernel, arguments, "Pillow", "", "", "", "", ""), NOT_COVERED, reason))
    for case in CASES:
        if case.pil is None:
            continue
        for images in inputs.values():
            table.rows.append(_against_pillow(case, case.pil, images))
    return table


def _edge_inputs(images: Tensor) -> dict[str, Tensor]:
    half = images.shape[0] // 2
    return {
        "unbatched": images[0],
        "leading dims": images[: 2 * half].reshape(2, half, *images.shape[1:]),
        "empty batch": images[:0],
    }


def edge_table(images: Tensor) -> Table:
    """The first case of every shared kernel on unbatched, 5-D and empty inputs, against torchvision."""
    table = Table("kernels: edge inputs vs torchvision", COLUMNS, legend=LEGEND, key_cells=3)
    first: dict[str, Case] = {}
    for case in CASES:
        if case.torchvision:
            first.setdefault(case.kernel, case)
    for case in first.values():
        for dtype in DTYPES:
            for form, batch in _edge_inputs(as_dtype(images, dtype)).items():
                table.rows.append(_against_torchvision(case, batch, form))
    return table


def _values(ranges: Sequence[Range], images: Tensor) -> list[Tensor]:
    """One shuffled ``(B,)`` tensor per range (fixed seed), in the images' scale for intensities."""
    batch = images.shape[0]
    generator = torch.Generator().manual_seed(SEED)
    values = []
    for spec in ranges:
        value = torch.linspace(spec.low, spec.high, batch, dtype=torch.float64)[torch.randperm(batch, generator=generator)]
        if spec.integral:
            value = value.round()
        if spec.intensity and images.dtype != torch.uint8:
            value = value / 255.0
        values.append(value.to(torch.int64) if spec.integral and (images.dtype == torch.uint8 or not spec.intensity) else value.float())
    return values


def _loop(case: PerSample, images: Tensor, values: Sequence[Tensor], noise: Tensor) -> Tensor:
    kernel = getattr(AF, case.kernel)
    outputs = []
    for index in range(images.shape[0]):
        args, kwargs = case.build([value[index].item() for value in values], noise[index : index + 1])
        outputs.append(kernel(images[index : index + 1], *args, **kwargs))
    return torch.cat(outputs)


def per_sample_table(images: Tensor) -> Table:
    """Each per-sample form against a loop of scalar calls, uint8 and float32 at 32x32."""
    table = Table("kernels: (B,) parameters vs a loop of scalar calls", COLUMNS, legend=LEGEND + "; should be exact", key_cells=3)
    for case in PER_SAMPLE:
        for dtype in DTYPES:
            batch = as_dtype(images, dtype)
            values = _values(case.ranges, batch)
            noise = torch.randn(batch.shape, generator=torch.Generator().manual_seed(SEED))
            args, kwargs = case.build(values, noise)
            table.rows.append(
                check(
                    case.kernel, f"(B,) {case.label}", "loop of scalar calls", batch, "",
                    lambda: _loop(case, batch, values, noise),
                    lambda: getattr(AF, case.kernel)(batch, *args, **kwargs),
                )  # fmt: skip
            )
    return table


def kernel_tables(inputs: dict[str, Tensor]) -> list[Table]:
    """The four kernel tables; ``inputs`` maps shape names to uint8 batches (``"32x32"`` first)."""
    base = next(iter(inputs.values()))
    return [torchvision_table(inputs), pillow_table(inputs), edge_table(base), per_sample_table(base)]
