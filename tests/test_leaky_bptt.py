"""The fused backward through time must give autograd's gradients, for every parameter."""

import lightning as L
import numpy as np
import pytest
import torch

from rnn_timescales import LeakyRNN, MemoryTaskModule
from rnn_timescales.backbones.leaky_bptt import batch_blocks, leaky_recurrence
from rnn_timescales.errors import ConfigError
from rnn_timescales.tasks import draw_batch


def pair(hidden, tau=None, slope=0.1, dtype=torch.float64, seed=0, blocks=None):
    torch.manual_seed(seed)
    reference = LeakyRNN(hidden, tau=tau, negative_slope=slope, implementation="autograd").to(dtype)
    if tau is None:
        with torch.no_grad():  # some tau below 1 to exercise the clamp
            reference.tau[::3] = 0.5 + torch.rand_like(reference.tau[::3]) * 0.4
            reference.tau[1::5] = 3.0 + 4 * torch.rand_like(reference.tau[1::5])
    fused = LeakyRNN(hidden, tau=tau, negative_slope=slope, implementation="fused", cpu_batch_blocks=blocks)
    fused = fused.to(dtype)
    fused.load_state_dict(reference.state_dict())
    return reference, fused


def gradients(net, s, r0, weights, trajectory_loss):
    r0 = r0.clone().requires_grad_()
    out = net(s, r0, return_trajectory=trajectory_loss)
    loss = (out * weights).sum() if trajectory_loss else (out * weights[-1]).sum()
    names = [name for name, p in net.named_parameters()]
    grads = torch.autograd.grad(loss, [r0] + [p for _, p in net.named_parameters()])
    return out.detach(), dict(zip(["r0"] + names, grads))


@pytest.mark.parametrize("steps", [1, 7, 200])
@pytest.mark.parametrize("slope", [0.0, 0.01, 0.1, 0.5])
@pytest.mark.parametrize("tau", [None, 1.0, 2.5])
@pytest.mark.parametrize("trajectory_loss", [False, True])
@pytest.mark.parametrize("blocks", [1, 3])  # 3 batch blocks of 2 rows (see leaky_bptt.py)
def test_float64_gradients_equal_autograd(steps, slope, tau, trajectory_loss, blocks):
    hidden, batch = 11, 6
    reference, fused = pair(hidden, tau=tau, slope=slope, blocks=blocks)
    generator = torch.Generator().manual_seed(steps)
    s = torch.randint(0, 2, (steps, batch, 1), generator=generator).double()
    r0 = torch.rand(batch, hidden, generator=generator, dtype=torch.float64)
    weights = torch.randn(steps, batch, hidden, generator=generator, dtype=torch.float64)
    out_ref, grad_ref = gradients(reference, s, r0, weights, trajectory_loss)
    out_fused, grad_fused = gradients(fused, s, r0, weights, trajectory_loss)
    torch.testing.assert_close(out_fused, out_ref, rtol=1e-12, atol=1e-12)
    assert set(grad_fused) == set(grad_ref) == {"r0", "w_rec", "b_rec", "w_in", "b_in"} | (
        {"tau"} if tau is None else set()
    )
    for name in grad_ref:
        torch.testing.assert_close(grad_fused[name], grad_ref[name], rtol=1e-5, atol=1e-10, msg=name)
    assert torch.all(grad_fused["w_rec"].diagonal() == 0)
    if tau is None:
        clamped = reference.tau < 1
        assert torch.all(grad_fused["tau"][clamped] == 0) and grad_fused["tau"][~clamped].abs().sum() > 0


def test_float32_gradients_close_to_autograd_at_paper_size():
    reference, fused = pair(500, dtype=torch.float32)
    x, _ = draw_batch("parity", [10], 64, torch.Generator().manual_seed(0))
    r0 = torch.rand(64, 500)
    weights = torch.randn(x.shape[0], 64, 500)
    out_ref, grad_ref = gradients(reference, x, r0, weights, False)
    out_fused, grad_fused = gradients(fused, x, r0, weights, False)
    torch.testing.assert_close(out_fused, out_ref, rtol=1e-4, atol=1e-5)
    for name in grad_ref:
        scale = grad_ref[name].abs().max()
        assert (grad_fused[name] - grad_ref[name]).abs().max() <= 1e-4 * scale, name


def test_fused_forward_trajectory_equals_naive_loop():
    reference, fused = pair(64, dtype=torch.float32)
    x, _ = draw_batch("dms", [20], 32, torch.Generator().manual_seed(3))
    r0 = torch.rand(32, 64)
    with torch.no_grad():
        torch.testing.assert_close(fused(x, r0, True), reference(x, r0, True), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("blocks", [1, 2])
def test_three_training_steps_identical_with_either_implementation(blocks):
    results = {}
    for implementation in ["autograd", "fused"]:
        L.seed_everything(7)
        backbone = LeakyRNN(32, implementation=implementation, cpu_batch_blocks=blocks)
        model = MemoryTaskModule(backbone.double(), head_capacity=4)
        model.double()
        for n in [2, 3]:
            model.heads.add(n)
        optimizer = model.configure_optimizers()
        generator = torch.Generator().manual_seed(1)
        losses = []
        for _ in range(3):
            x, y = draw_batch("parity", [2, 3], 16, generator)
            r0 = torch.full((16, 32), 0.05, dtype=torch.float64)
            logits = model.heads(model.backbone(x.double(), r0), [2, 3])
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none").view(16, 2).mean(0).sum()
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 2.0)
            optimizer.step()
            losses.append(loss.item())
        results[implementation] = (losses, {k: v.clone() for k, v in model.state_dict().items()})
    assert results["fused"][0] == pytest.approx(results["autograd"][0], rel=1e-10)
    for key, value in results["autograd"][1].items():
        torch.testing.assert_close(results["fused"][1][key], value, rtol=1e-9, atol=1e-12, msg=key)



def test_batch_blocks_match_one_product_at_paper_size():
    # Bit-identical with the project machine's MKL; float rounding is all a contract can ask.
    torch.manual_seed(0)
    nets = [LeakyRNN(500, cpu_batch_blocks=k) for k in (1, 2, 4)]
    for net in nets[1:]:
        net.load_state_dict(nets[0].state_dict())
    x, _ = draw_batch("parity", [10], 256, torch.Generator().manual_seed(0))
    r0 = torch.rand(256, 500)
    results = []
    for net in nets:
        out = net(x, r0)
        out.square().sum().backward()
        results.append([out.detach()] + [p.grad for p in net.parameters()])
    for other in results[1:]:
        for a, b in zip(results[0], other):
            torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6 * float(a.abs().max()))


def test_batch_blocks_choice():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert batch_blocks(256, cuda, None) == 1 and batch_blocks(256, cuda, 2) == 1
    assert batch_blocks(6, cpu, 4) == 3 and batch_blocks(7, cpu, 2) == 1 and batch_blocks(5, cpu, 9) == 5
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert batch_blocks(256, cpu, None) == 2
        assert batch_blocks(255, cpu, None) == 1  # no equal blocks
        assert batch_blocks(40, cpu, None) == 1  # 20 rows a block: too few
        torch.set_num_threads(1)
        assert batch_blocks(256, cpu, None) == 1
    finally:
        torch.set_num_threads(threads)


def test_bad_block_count_is_refused():
    for bad in (0, -1, 2.5, "2", True):
        with pytest.raises(ConfigError, match=f"cpu_batch_blocks must be an integer >= 1.*got {bad!r}"):
            LeakyRNN(8, cpu_batch_blocks=bad)
    assert LeakyRNN(8, cpu_batch_blocks=np.int64(2)).cpu_batch_blocks == 2
    with pytest.raises(ValueError, match="blocks must be >= 1"):
        leaky_recurrence(torch.zeros(2, 3, 1), torch.zeros(4, 1), torch.zeros(4), torch.zeros(3, 4),
                         torch.zeros(4, 4), 0.1, blocks=0)
