import pytest
import torch
import torch.nn.functional as F

from rnn_timescales import LeakyRNN
from rnn_timescales.errors import ConfigError


def three_neuron_net(implementation="autograd", slope=0.1):
    net = LeakyRNN(hidden_size=3, negative_slope=slope, init_state="zeros", implementation=implementation).double()
    f64 = dict(dtype=torch.float64)
    with torch.no_grad():
        net.w_rec.copy_(torch.tensor([[0.0, 0.5, -1.0], [0.3, 0.0, 0.2], [-0.7, 0.4, 0.0]], **f64))
        net.b_rec.copy_(torch.tensor([0.1, -0.2, 0.05], **f64))
        net.w_in.copy_(torch.tensor([[1.0], [-0.5], [2.0]], **f64))
        net.b_in.copy_(torch.tensor([0.0, 0.1, -0.3], **f64))
        net.tau.copy_(torch.tensor([1.0, 2.0, 4.0], **f64))
    return net


@pytest.mark.parametrize("implementation", ["autograd", "fused"])
def test_one_step_equals_eq1_by_hand(implementation):
    net = three_neuron_net(implementation)
    r0 = torch.tensor([[0.2, -0.1, 0.4]], dtype=torch.float64)
    s = torch.tensor([[[1.0]]], dtype=torch.float64)
    r1 = net(s, r0)[0]
    expected = []
    w, b, wi, bi, tau = [[0.0, 0.5, -1.0], [0.3, 0.0, 0.2], [-0.7, 0.4, 0.0]], [0.1, -0.2, 0.05], [1.0, -0.5, 2.0], [0.0, 0.1, -0.3], [1.0, 2.0, 4.0]
    for i in range(3):
        recurrent = sum(w[i][j] * r0[0, j].item() for j in range(3))
        x = (1 - 1 / tau[i]) * r0[0, i].item() + (recurrent + b[i] + wi[i] * 1.0 + bi[i]) / tau[i]
        expected.append(x if x > 0 else 0.1 * x)
    torch.testing.assert_close(r1, torch.tensor(expected, dtype=torch.float64), rtol=0, atol=1e-12)


@pytest.mark.parametrize("implementation", ["autograd", "fused"])
def test_diagonal_of_w_rec_changes_nothing_and_gets_no_gradient(implementation):
    net = three_neuron_net(implementation)
    s = torch.randint(0, 2, (6, 4, 1)).double()
    r0 = torch.rand(4, 3, dtype=torch.float64)
    before = net(s, r0, return_trajectory=True)
    with torch.no_grad():
        net.w_rec.diagonal().copy_(torch.tensor([5.0, -3.0, 7.0]))
    after = net(s, r0, return_trajectory=True)
    torch.testing.assert_close(before, after, rtol=0, atol=0)
    after.sum().backward()
    assert torch.all(net.w_rec.grad.diagonal() == 0)
    assert net.w_rec.grad.abs().sum() > 0


@pytest.mark.parametrize("implementation", ["autograd", "fused"])
def test_tau_below_one_behaves_as_one(implementation):
    net = three_neuron_net(implementation)
    s = torch.randint(0, 2, (5, 2, 1)).double()
    r0 = torch.rand(2, 3, dtype=torch.float64)
    reference = net(s, r0, return_trajectory=True)
    with torch.no_grad():
        net.tau[0] = 0.3
    out = net(s, r0, return_trajectory=True)
    torch.testing.assert_close(out, reference, rtol=0, atol=0)
    out.sum().backward()
    assert net.tau.grad[0] == 0 and net.tau.grad[1:].abs().sum() > 0


def test_fixed_tau_is_not_trained():
    net = LeakyRNN(hidden_size=8, tau=2.0)
    assert "tau" not in dict(net.named_parameters())
    assert torch.all(net.effective_tau() == 2.0)
    net(torch.ones(4, 3, 1)).sum().backward()
    assert not net.tau.requires_grad and net.tau.grad is None


def test_trained_tau_init_in_one_to_two():
    tau = LeakyRNN(hidden_size=1000).tau
    assert tau.requires_grad and 1.0 <= tau.min() and tau.max() < 2.0 and tau.std() > 0.2


def test_trajectory_and_last_state_and_initial_state():
    torch.manual_seed(0)
    net = LeakyRNN(hidden_size=5)
    s = torch.rand(7, 3, 1)
    r0 = torch.rand(3, 5)
    trajectory = net(s, r0, return_trajectory=True)
    assert trajectory.shape == (7, 3, 5)
    torch.testing.assert_close(net(s, r0), trajectory[-1])
    drawn = net.initial_state(1000, s)
    assert 0 <= drawn.min() and drawn.max() < 0.1


@pytest.mark.parametrize(
    "kwargs, match",
    [({"hidden_size": 0}, "hidden_size must be >= 1, got 0"), ({"tau": 0.5}, "fixed tau must be >= 1.*0.5")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        LeakyRNN(**kwargs)


def test_negative_slope_is_used():
    net = three_neuron_net("autograd", slope=0.01)
    with torch.no_grad():
        net.b_in.fill_(-10.0)
    r = net(torch.zeros(1, 1, 1, dtype=torch.float64), torch.zeros(1, 3, dtype=torch.float64))
    torch.testing.assert_close(r, F.leaky_relu((net.b_rec + net.b_in) / net.tau, 0.01)[None].detach())


def test_input_of_another_dtype_is_a_clear_error():
    net = LeakyRNN(8)
    with pytest.raises(ValueError, match="input is torch.float64 but the network is torch.float32"):
        net(torch.zeros(3, 4, 1, dtype=torch.float64))
