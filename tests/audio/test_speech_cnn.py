"""speech_cnn: the log-mel CNN from waveforms or spectrograms."""

from __future__ import annotations

import pytest
import torch

from augbench.errors import ConfigError, InputValueError
from augbench.models import MODELS, SpeechCNN, build_model


def test_builds_from_the_run_context_for_both_modalities():
    wave = build_model("speech_cnn", num_classes=10, input_shape=(1, 8000), modality="audio")
    spec = build_model({"type": "speech_cnn", "width": 0.5}, num_classes=4, input_shape=(1, 40, 63), modality="spectrogram")
    assert wave.stage_names == ("frontend", "conv1", "conv2", "conv3", "pool")
    assert spec.stage_names == ("conv1", "conv2", "conv3", "pool")
    assert wave(torch.randn(3, 1, 8000)).shape == (3, 10) and spec(torch.randn(3, 1, 40, 63)).shape == (3, 4)
    assert "speech_cnn" in MODELS.names()


def test_any_length_works_and_the_features_keep_the_mel_bands():
    model = SpeechCNN(num_classes=10, input_shape=(1, 8000), width=0.5)
    assert model(torch.randn(2, 1, 3000)).shape == (2, 10)
    assert model.forward_features(torch.randn(2, 1, 5000)).shape == (2, 32 * 10)  # 32 channels x 40 / 4 bands
    with pytest.raises(InputValueError, match="expected"):
        model(torch.randn(2, 2, 8000))


def test_staged_forward_equals_forward():
    model = SpeechCNN(num_classes=10, input_shape=(1, 1000), width=0.25).eval()
    x = torch.randn(2, 1, 1000, generator=torch.Generator().manual_seed(0))
    for point in range(model.num_stages + 1):
        torch.testing.assert_close(model.forward_from(model.forward_features(x, stop_at=point), point), model(x))


def test_learns_a_tiny_problem():
    """Two tones (300 Hz vs 1200 Hz) in noise: a few steps separate them."""
    generator = torch.Generator().manual_seed(0)
    t = torch.arange(800) / 8000
    labels = torch.arange(16) % 2
    tones = torch.sin(2 * torch.pi * torch.where(labels == 0, 300.0, 1200.0)[:, None] * t)
    x = (tones + 0.3 * torch.randn(16, 800, generator=generator))[:, None]
    torch.manual_seed(0)
    model = SpeechCNN(num_classes=2, input_shape=(1, 800), n_mels=20, width=0.25)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(15):
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(model(x), labels).backward()
        optimiser.step()
    model.eval()
    assert (model(x).argmax(1) == labels).float().mean() == 1.0


@pytest.mark.parametrize(
    "options, fragment",
    [({"input_shape": (8000,)}, "input_shape"), ({"width": 0}, "width"), ({"num_classes": 0}, "num_classes"),
     ({"n_mels": 0}, "n_mels"), ({"sample_rate": 8000, "n_fft": 256, "hop_length": 0}, "hop_length")],
)
def test_bad_options(options, fragment):
    with pytest.raises(ConfigError, match=fragment):
        SpeechCNN(**options)
