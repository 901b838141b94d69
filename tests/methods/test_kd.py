"""Knowledge distillation card (augbench/methods/kd.py): T²-scaled soft targets from a frozen, cached teacher."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

from augbench.bench.run import Progress, RunResult, train_run
from augbench.bench.spec import RunSpec
from augbench.data.streams import DataSpec, prepare_run_data
from augbench.errors import ConfigError
from augbench.methods import KnowledgeDistillation, Method, MethodContext, Supervised, build_method, resolve_method
from augbench.modalities import get_modality
from augbench.models import MODELS
from augbench.train.context import Batch, StepOutput, TrainContext

NUM_CLASSES = 10
DIGITS = MethodContext(NUM_CLASSES, (1, 8, 8))
AFFINE = {"type": "RandomAffine", "degrees": 15, "translate": [0.125, 0.125]}
STUDENT = {"type": "harness_cnn", "width": 0.25}
TEACHER = {"type": "harness_cnn", "width": 0.5}


@pytest.fixture(autouse=True)
def _one_thread(single_thread: Callable[[], AbstractContextManager[None]]) -> Iterator[None]:
    with single_thread():
        yield


def kd(**options: object) -> KnowledgeDistillation:
    method = build_method({"type": "kd", **options}, DIGITS)
    assert isinstance(method, KnowledgeDistillation)
    return method


class FixedLogits(nn.Module):
    """Ignores its input and returns trainable logits ``(B, K)``; records the inputs it saw."""

    def __init__(self, logits: Tensor) -> None:
        super().__init__()
        self.logits = nn.Parameter(logits.clone())
        self.seen: list[Tensor] = []

    def forward(self, inputs: Tensor) -> Tensor:
        self.seen.append(inputs.detach().clone())
        return self.logits


def random_logits(batch: int, seed: int, scale: float = 3.0) -> Tensor:
    return scale * torch.randn(batch, NUM_CLASSES, generator=torch.Generator().manual_seed(seed))


def batch_of(size: int = 8, seed: int = 0) -> Batch:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (size, 1, 8, 8), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, NUM_CLASSES, (size,), generator=generator)
    return Batch.labeled(images, labels, torch.arange(size))


def context(model: nn.Module, teacher: nn.Module | None, lr: float = 0.1) -> TrainContext:
    return TrainContext(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9),
        device=torch.device("cpu"),
        num_classes=NUM_CLASSES,
        generator=torch.Generator().manual_seed(0),
        normalize=lambda images: images.float() / 255 - 0.5,
        total_steps=10,
        models={} if teacher is None else {"teacher": teacher},
    )


def reference_loss(student: Tensor, teacher: Tensor, labels: Tensor, temperature: float, alpha: float) -> Tensor:
    """The card's formula from probabilities: alpha T² sum p_t log(p_t / p_s) + (1 - alpha) CE."""
    p_teacher = torch.softmax(teacher / temperature, dim=1)
    p_student = torch.softmax(student / temperature, dim=1)
    kl = (p_teacher * (p_teacher.log() - p_student.log())).sum(1).mean()
    return alpha * temperature**2 * kl + (1 - alpha) * nnf.cross_entropy(student, labels)


# -- the loss ----------------------------------------------------------------------------------


@pytest.mark.parametrize("temperature", [1.0, 4.0, 20.0])
@pytest.mark.parametrize("alpha", [1.0, 0.9, 0.3])
def test_loss_is_alpha_t_squared_kl_plus_ce_and_is_logged(temperature: float, alpha: float) -> None:
    batch = batch_of()
    student, teacher = FixedLogits(random_logits(8, 1)), FixedLogits(random_logits(8, 2))
    ctx = context(student, teacher)
    method = kd(temperature=temperature, alpha=alpha)
    method.setup(ctx)
    ctx.batch = batch
    loss = method.training_step(batch, ctx).loss
    labels = batch["labeled"].labels
    expected = reference_loss(student.logits.detach(), teacher.logits.detach(), labels, temperature, alpha)
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)
    logs = ctx.log.means()
    assert set(logs) == {"kd_loss", "ce_loss", "teacher_agreement"}
    soft = reference_loss(student.logits.detach(), teacher.logits.detach(), labels, temperature, 1.0)
    assert logs["kd_loss"] == pytest.approx(float(soft), rel=1e-5)
    assert logs["ce_loss"] == pytest.approx(float(nnf.cross_entropy(student.logits.detach(), labels)), rel=1e-6)
    agreement = (student.logits.argmax(1) == teacher.logits.argmax(1)).float().mean()
    assert logs["teacher_agreement"] == pytest.approx(float(agreement))


def _soft_gradient(temperature: float) -> Tensor:
    batch = batch_of()
    student, teacher = FixedLogits(random_logits(8, 1)), FixedLogits(random_logits(8, 2))
    ctx = context(student, teacher)
    method = kd(temperature=temperature, alpha=1.0)
    method.setup(ctx)
    ctx.batch = batch
    method.training_step(batch, ctx).loss.backward()
    assert student.logits.grad is not None
    return student.logits.grad


def test_t_squared_keeps_the_soft_gradient_on_one_scale_as_t_grows() -> None:
    norms = {t: float(_soft_gradient(t).norm()) for t in (8.0, 16.0, 32.0)}
    # without the T² factor each doubling of T would divide the gradient by ~4
    assert norms[16.0] / norms[8.0] == pytest.approx(1.0, abs=0.15)
    assert norms[32.0] / norms[16.0] == pytest.approx(1.0, abs=0.05)
    # the high-temperature limit: d/dz_s = (centred z_s - centred z_t) / (K B)
    student, teacher = random_logits(8, 1), random_logits(8, 2)
    centred = (student - student.mean(1, keepdim=True)) - (teacher - teacher.mean(1, keepdim=True))
    torch.testing.assert_close(_soft_gradient(1000.0), centred / (NUM_CLASSES * 8), rtol=0.01, atol=1e-4)


def test_identical_teacher_gives_zero_kd_loss_and_full_agreement() -> None:
    batch = batch_of()
    student = FixedLogits(random_logits(8, 1))
    ctx = context(student, copy.deepcopy(student))
    method = kd()
    method.setup(ctx)
    ctx.batch = batch
    method.training_step(batch, ctx)
    logs = ctx.log.means()
    assert logs["kd_loss"] == pytest.approx(0.0, abs=1e-6) and logs["teacher_agreement"] == 1.0


# -- alpha = 0 is the student alone -----------------------------------------------------------


def _train(method: Method, steps: int, train_step: Callable[..., StepOutput]) -> tuple[list[Tensor], nn.Module]:
    torch.manual_seed(0)
    student = MODELS.build(STUDENT, in_channels=1, num_classes=NUM_CLASSES, image_size=(8, 8))
    torch.manual_seed(1)
    teacher = MODELS.build(TEACHER, in_channels=1, num_classes=NUM_CLASSES, image_size=(8, 8))
    ctx = context(student, teacher, lr=0.05)
    method.setup(ctx)
    losses = []
    for step in range(steps):
        batch = batch_of(16, seed=step % 3)
        train_step(method, batch, ctx)
        losses.append(ctx.log.means()["train_loss"])
    return losses, student


def test_alpha_zero_is_plain_supervised_training_step_for_step(train_step: Callable[..., StepOutput]) -> None:
    plain_losses, plain = _train(Supervised(augment=AFFINE), 6, train_step)
    kd_losses, student = _train(kd(alpha=0.0, augment=AFFINE), 6, train_step)
    assert kd_losses == plain_losses
    for (name, expected), actual in zip(plain.state_dict().items(), student.state_dict().values()):
        assert torch.equal(actual, expected), name


# -- the teacher: frozen, eval mode, same batch ------------------------------------------------


def test_teacher_gets_no_gradient_is_not_updated_and_stays_in_eval_mode(train_step: Callable[..., StepOutput]) -> None:
    torch.manual_seed(0)
    teacher = nn.Sequential(
        nn.Flatten(), nn.Linear(64, 32), nn.BatchNorm1d(32), nn.Dropout(0.5), nn.Linear(32, NUM_CLASSES)
    )
    teacher.train()  # as the teacher phase leaves it
    before = copy.deepcopy(teacher.state_dict())
    student = MODELS.build(STUDENT, in_channels=1, num_classes=NUM_CLASSES, image_size=(8, 8))
    ctx = context(student, teacher)
    method = kd()
    method.setup(ctx)
    optimised = {id(p) for group in ctx.optimizer.param_groups for p in group["params"]}
    assert not optimised & {id(p) for p in teacher.parameters()}
    outputs = []
    for step in range(4):
        batch = batch_of(seed=0)
        train_step(method, batch, ctx)
        outputs.append(teacher(ctx.normalize(batch["labeled"].inputs)).detach())
    assert not any(module.training for module in teacher.modules())
    assert all(p.grad is None and not p.requires_grad for p in teacher.parameters())
    after = teacher.state_dict()
    assert all(torch.equal(after[name], value) for name, value in before.items())  # BatchNorm statistics too
    assert all(torch.equal(out, outputs[0]) for out in outputs)  # dropout off: the same soft targets
    assert any(p.grad is not None for p in student.parameters())


def test_teacher_and_student_see_the_same_augmented_batch() -> None:
    batch = batch_of()
    student, teacher = FixedLogits(random_logits(8, 1)), FixedLogits(random_logits(8, 2))
    ctx = context(student, teacher)
    method = kd(augment=AFFINE)
    method.setup(ctx)
    ctx.batch = batch
    method.training_step(batch, ctx)
    assert torch.equal(teacher.seen[0], student.seen[0])
    assert not torch.equal(student.seen[0], ctx.normalize(batch["labeled"].inputs))


def test_missing_teacher_model_is_one_line() -> None:
    ctx = context(FixedLogits(random_logits(8, 1)), None)
    with pytest.raises(ConfigError, match="no trained 'teacher' model in ctx.models.*run kd through train_run") as info:
        kd().setup(ctx)
    assert "\n" not in str(info.value)


# -- phases and options ------------------------------------------------------------------------


def test_teacher_phase_is_the_resolved_plain_supervised_spec_whatever_the_student_options() -> None:
    first = kd(teacher=TEACHER, teacher_epochs=3).phases(DIGITS)
    second = kd(teacher=TEACHER, teacher_epochs=3, temperature=1.0, alpha=0.5, augment=AFFINE).phases(DIGITS)
    assert [phase.name for phase in first] == ["teacher", "student"]
    teacher, student = first
    assert teacher.spec == resolve_method("baseline") == {"type": "supervised", "augment": None}
    assert isinstance(teacher.method, Supervised) and teacher.method.augment is None
    assert (teacher.model, teacher.epochs) == (TEACHER, 3)
    assert student.method is not teacher.method and student.model is None
    other = second[0]
    assert (other.spec, other.model, other.epochs) == (teacher.spec, teacher.model, teacher.epochs)
    augmented = kd(teacher_augment=AFFINE).phases(DIGITS)[0]
    assert augmented.spec == resolve_method({"type": "supervised", "augment": AFFINE})
    assert augmented.model is None and augmented.epochs is None  # the run's model and epochs


def test_defaults_are_the_card_and_json() -> None:
    assert resolve_method("kd") == {
        "type": "kd", "temperature": 4.0, "alpha": 0.9, "augment": None,
        "teacher": None, "teacher_epochs": None, "teacher_augment": None,
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"temperature": 0}, "kd: temperature=0 must be a number > 0"),
        ({"temperature": -1.0}, "kd: temperature=-1.0 must be a number > 0"),
        ({"temperature": "4"}, "kd: temperature='4' must be a number > 0"),
        ({"temperature": True}, "kd: temperature=True must be a number > 0"),
        ({"temperature": float("inf")}, "kd: temperature=inf must be a number > 0"),
        ({"alpha": 1.5}, r"kd: alpha=1.5 must be a number in \[0, 1\]"),
        ({"alpha": -0.1}, r"kd: alpha=-0.1 must be a number in \[0, 1\]"),
        ({"alpha": None}, r"kd: alpha=None must be a number in \[0, 1\]"),
        ({"teacher_epochs": 0}, "kd: teacher_epochs=0 must be a positive integer, or null"),
        ({"teacher_epochs": 2.5}, "kd: teacher_epochs=2.5 must be a positive integer, or null"),
        ({"teacher": "no_such_net"}, "kd: option 'teacher' is not a valid model spec .*unknown model 'no_such_net'"),
        ({"teacher": {"type": "harness_cnn", "widht": 2}}, "kd: option 'teacher' .*unknown option 'widht'"),
        ({"teacher": {"type": "harness_cnn", "num_classes": 3}}, "kd: option 'teacher' .*'num_classes' is set by"),
        ({"augment": "no-such-policy"}, "kd: option 'augment' is not a valid transform spec"),
        ({"teacher_augment": {"type": "RandomAffine", "degrees": -5}}, "kd: option 'teacher_augment' is not a valid"),
    ],
)
def test_bad_options_are_one_line_naming_the_option(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        kd(**options)
    assert "\n" not in str(info.value)


# -- end to end: phases through train_run, the teacher cached once ---------------------------


def _spec(method: dict[str, object], model: object = STUDENT) -> RunSpec:
    return RunSpec.create(
        dataset="digits", model=model, method=method, seed=0, epochs=2, batch_size=50,
        data=DataSpec(train_size=100, test_size=300), evaluations=(),
    )


def _kd(**options: object) -> dict[str, object]:
    return {"type": "kd", "teacher": TEACHER, "teacher_epochs": 3, **options}


def _counting_progress() -> tuple[Progress, list[int]]:
    trained: list[int] = []
    return Progress(epoch=lambda: trained.append(1)), trained


@pytest.fixture(scope="module")
def first_run(
    tmp_path_factory: pytest.TempPathFactory, single_thread: Callable[[], AbstractContextManager[None]]
) -> tuple[Path, RunResult]:
    cache = tmp_path_factory.mktemp("kd-cache")
    with single_thread():
        return cache, train_run(_spec(_kd()), cache_dir=cache)


def test_first_run_trains_teacher_then_student_and_logs(first_run: tuple[Path, RunResult]) -> None:
    _, result = first_run
    assert [(c.phase, c.reused) for c in result.checkpoints] == [("teacher", False), ("student", False)]
    names = {(phase, name) for phase, _epoch, name, _value in result.curves}
    logged = {("student", "kd_loss"), ("student", "ce_loss"), ("student", "teacher_agreement")}
    assert {("teacher", "train_loss"), *logged} <= names
    assert len({epoch for phase, epoch, _n, _v in result.curves if phase == "teacher"}) == 3  # teacher_epochs
    assert len({epoch for phase, epoch, _n, _v in result.curves if phase == "student"}) == 2  # the run's epochs


def test_another_temperature_reuses_the_cached_teacher(first_run: tuple[Path, RunResult], tmp_path: Path) -> None:
    cache, first = first_run
    shared = tmp_path / "cache"
    shutil.copytree(cache, shared)
    progress, trained = _counting_progress()
    second = train_run(_spec(_kd(temperature=2.0)), cache_dir=shared, progress=progress)
    teacher, student = second.checkpoints
    assert (teacher.phase, teacher.reused, teacher.key) == ("teacher", True, first.checkpoints[0].key)
    assert teacher.path == str(shared / f"{teacher.key}.pt")
    assert (student.phase, student.reused) == ("student", False) and student.key != first.checkpoints[1].key
    assert len(trained) == 2  # only the student's two epochs trained; the teacher's three did not
    assert second.phase_metrics["teacher"] == first.phase_metrics["teacher"]
    assert [c for c in second.curves if c[0] == "teacher"] == [c for c in first.curves if c[0] == "teacher"]
    assert len(list(shared.glob("*.pt"))) == 3  # one teacher, two students


def test_corrupt_teacher_cache_file_is_one_line_naming_the_file_and_the_fix(
    first_run: tuple[Path, RunResult], tmp_path: Path
) -> None:
    cache, first = first_run
    broken = tmp_path / "cache"
    shutil.copytree(cache, broken)
    path = broken / f"{first.checkpoints[0].key}.pt"
    path.write_bytes(b"not a torch file")
    with pytest.raises(ConfigError, match="delete it") as info:
        train_run(_spec(_kd(alpha=0.5)), cache_dir=broken)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def _accuracy(spec: RunSpec, model_spec: dict[str, object], state: dict[str, Tensor]) -> float:
    data = prepare_run_data(spec.dataset, spec.data, spec.seed)
    model = MODELS.build(model_spec, in_channels=1, num_classes=NUM_CLASSES, image_size=(8, 8))
    model.load_state_dict(state)
    normalize = get_modality(data.modality).fit_normalizer(data.streams["labeled"].inputs)
    test = data.evals["test"]
    with torch.no_grad():
        predictions = model.eval()(normalize(test.inputs)).argmax(1)
    return int((predictions == test.labels).sum()) / len(test.labels)


def test_student_metrics_come_from_the_student_model(first_run: tuple[Path, RunResult]) -> None:
    _, result = first_run
    teacher, student = (torch.load(c.path, weights_only=True)["model"] for c in result.checkpoints)
    assert result.metrics["test_accuracy"] == pytest.approx(_accuracy(result.spec, STUDENT, student), abs=1e-9)
    assert _accuracy(result.spec, TEACHER, teacher) != pytest.approx(result.metrics["test_accuracy"], abs=1e-9)


def test_alpha_zero_run_matches_the_student_alone_exactly(tmp_path: Path) -> None:
    alone = train_run(_spec({"type": "supervised"}), cache_dir=tmp_path)
    distilled = train_run(_spec(_kd(alpha=0.0)), cache_dir=tmp_path)
    assert distilled.metrics["test_accuracy"] == alone.metrics["test_accuracy"]
    assert distilled.metrics["test_nll"] == alone.metrics["test_nll"]
    plain = [(e, v) for phase, e, name, v in alone.curves if phase == "train" and name == "train_loss"]
    student = [(e, v) for phase, e, name, v in distilled.curves if phase == "student" and name == "train_loss"]
    assert student == plain


def test_the_teacher_phase_reports_its_own_accuracy(first_run: tuple[Path, RunResult]) -> None:
    """Phase evaluations: the teacher's test accuracy is stored with its phase, from its own weights."""
    _, result = first_run
    teacher = torch.load(result.checkpoints[0].path, weights_only=True)["model"]
    reported = result.phase_metrics["teacher"]["test_accuracy"]
    assert reported == pytest.approx(_accuracy(result.spec, TEACHER, teacher), abs=1e-9)
    assert "test_accuracy" not in result.phase_metrics["student"]  # the run's metrics judge the student
