"""learn: the kernel learned by gradient descent (d2l 6.2.4), step by step as torch's SGD."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from clitools import assert_usage_error, invoke, json_of

from convcli.ops.learn import edges_example, kernel_gradient, learn_kernel, random_kernel


@pytest.mark.torch
@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("kernel_shape", [(1, 2), (3, 3), (2, 1)])
def test_steps_equal_torch_sgd(kernel_shape: tuple[int, int], with_bias: bool) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(sum(kernel_shape) + with_bias)
    x = rng.normal(size=(7, 9))
    goal = rng.normal(size=kernel_shape)
    m_h, m_w = 7 - kernel_shape[0] + 1, 9 - kernel_shape[1] + 1
    y = torch.nn.functional.conv2d(
        torch.from_numpy(x)[None, None], torch.from_numpy(goal)[None, None]
    ).numpy()[0, 0] + rng.normal(scale=0.1, size=(m_h, m_w))
    start = random_kernel(kernel_shape, seed=4)
    conv = torch.nn.Conv2d(1, 1, kernel_shape, bias=with_bias).double()
    with torch.no_grad():
        conv.weight[:] = torch.from_numpy(start)[None, None]
        if with_bias:
            conv.bias.zero_()
    optimizer = torch.optim.SGD(conv.parameters(), lr=0.01)
    xt, yt = torch.from_numpy(x)[None, None], torch.from_numpy(y)[None, None]
    for epochs in range(1, 6):
        optimizer.zero_grad()
        loss = ((conv(xt) - yt) ** 2).sum()
        loss.backward()
        optimizer.step()
        run = learn_kernel(x, y, start, lr=0.01, epochs=epochs, bias=0.0 if with_bias else None)
        assert run.losses[-1] == pytest.approx(loss.item(), rel=1e-12)
        np.testing.assert_allclose(run.kernel, conv.weight.detach().numpy()[0, 0], rtol=1e-12)
        if with_bias:
            assert run.bias == pytest.approx(conv.bias.item(), rel=1e-12, abs=1e-15)


@pytest.mark.torch
def test_kernel_gradient_is_autograds() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x, k, y = rng.normal(size=(5, 6)), rng.normal(size=(2, 3)), rng.normal(size=(4, 4))
    kt = torch.from_numpy(k).requires_grad_()
    out = torch.nn.functional.conv2d(torch.from_numpy(x)[None, None], kt[None, None])[0, 0]
    ((out - torch.from_numpy(y)) ** 2).sum().backward()
    residual = out.detach().numpy() - y
    np.testing.assert_allclose(kernel_gradient(x, residual), kt.grad.numpy(), rtol=1e-12)


def test_edges_example_learns_the_edge_detector() -> None:
    x, y = edges_example()
    run = learn_kernel(x, y, np.zeros((1, 2)), lr=0.03, epochs=10)
    assert run.losses == sorted(run.losses, reverse=True)
    np.testing.assert_allclose(run.kernel, [[1.0, -1.0]], atol=0.05)


def test_cli_example_json_and_output(tmp_path: Path) -> None:
    out = tmp_path / "k.npy"
    data = json_of(invoke("learn", "--example", "edges", "--json", "-o", str(out)))
    assert len(data["losses"]) == 10
    assert data["losses"][-1] < data["losses"][0] / 100
    np.testing.assert_allclose(np.load(out), data["kernel"]["data"])
    np.testing.assert_allclose(data["kernel"]["data"], [[1.0, -1.0]], atol=0.05)


def test_cli_files_and_init_file(tmp_path: Path) -> None:
    x, y = edges_example()
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "k0.npy", np.array([[0.5, 0.5]]))
    args = [str(tmp_path / "x.npy"), str(tmp_path / "y.npy")]
    data = json_of(invoke("learn", *args, "--init", str(tmp_path / "k0.npy"), "--json"))
    expected = learn_kernel(x, y, np.array([[0.5, 0.5]]), lr=0.03, epochs=10)
    assert data["losses"] == expected.losses
    text = invoke("learn", *args, "--kernel-shape", "1,2", "--epochs", "3")
    assert text.exit_code == 0, text.output
    assert "K learned" in text.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ([], ["INPUT", "--example"]),
        (["--example", "faces"], ["--example"]),
        (["--example", "edges", "--lr", "0"], ["--lr"]),
        (["--example", "edges", "--epochs", "0"], ["--epochs"]),
        (["--example", "edges", "--seed", "1"], ["--seed"]),
        (["--example", "edges", "--kernel-shape", "2,2"], ["target"]),
    ],
)
def test_cli_refusals(args: list[str], words: list[str]) -> None:
    assert_usage_error(invoke("learn", *args), *words)


def test_cli_hostile_values(tmp_path: Path) -> None:
    x, y = edges_example()
    np.save(tmp_path / "xc.npy", x.astype(np.complex128))
    np.save(tmp_path / "y.npy", y)
    args = [str(tmp_path / "xc.npy"), str(tmp_path / "y.npy"), "--kernel-shape", "1,2"]
    assert_usage_error(invoke("learn", *args), "xc.npy", "complex")
    diverging = invoke("learn", "--example", "edges", "--lr", "100", "--epochs", "200")
    assert_usage_error(diverging, "epoch", "smaller lr")
    assert_usage_error(invoke("learn", "--example", "edges", "--epochs", "10000000"), "--epochs")


def test_long_runs_list_the_first_and_last_epochs() -> None:
    result = invoke("learn", "--example", "edges", "--epochs", "50")
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.stdout.splitlines()]
    epochs = [cells[0] for cells in lines if len(cells) == 2 and cells[0].isdigit()]
    assert epochs == [str(e) for e in [*range(1, 11), *range(41, 51)]]


def test_plot_writes_the_loss_curve(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    target = tmp_path / "loss.png"
    result = invoke("learn", "--example", "edges", "--plot", str(target))
    assert result.exit_code == 0, result.output
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert_usage_error(invoke("learn", "--example", "edges", "--plot", str(target)), "--plot")


def test_memory_budget(tmp_path: Path) -> None:
    x = np.zeros((300, 300))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", x[:, :-1])
    args = [str(tmp_path / "x.npy"), str(tmp_path / "y.npy"), "--kernel-shape", "1,2"]
    assert_usage_error(invoke("learn", *args, "--max-memory", "100k"), "--max-memory")
    assert invoke("learn", *args, "--max-memory", "50M", "--epochs", "1").exit_code == 0


def test_cli_one_channel_tensors_are_planes(tmp_path: Path) -> None:
    x, y = edges_example()
    np.save(tmp_path / "x.npy", x[None])
    np.save(tmp_path / "y.npy", y[None, None])
    np.save(tmp_path / "k0.npy", np.zeros((1, 1, 1, 2)))
    args = [str(tmp_path / "x.npy"), str(tmp_path / "y.npy"), "--init", str(tmp_path / "k0.npy")]
    data = json_of(invoke("learn", *args, "--json"))
    assert data["losses"] == learn_kernel(x, y, np.zeros((1, 2))).losses
