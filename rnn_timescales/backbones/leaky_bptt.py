"""Forward and backward through time of ``r(t) = phi(r(t-1) @ M.T + c(t))`` by hand.

Why not autograd: autograd records ~6 small ops per time step and, in the backward,
computes the gradient of the recurrent matrix as one small ``[H, B] x [B, H]`` product
per step. Here each step costs exactly one matrix product forward and one backward
(plus the nonlinearity), and the gradient of ``M`` is ONE large product over all
steps after the loop: ``grad_M = sum_t grad_pre(t).T @ r(t-1)``.

Saved for the backward: the pre-activations and the trajectory, both ``[T, B, H]``.
Plain tensor code: it runs unchanged on CUDA and under DDP.
"""

from __future__ import annotations

import torch
from torch import Tensor


class LeakyRecurrence(torch.autograd.Function):
    """``r(t) = leaky_relu(r(t-1) @ m.T + c(t), slope)`` for t = 0..T-1; returns all ``r(t)``."""

    @staticmethod
    def forward(ctx, c: Tensor, r0: Tensor, m: Tensor, slope: float) -> Tensor:
        steps = c.shape[0]
        pre = torch.empty_like(c)
        trajectory = torch.empty_like(c)
        m_t = m.T
        r = r0
        for t in range(steps):
            torch.addmm(c[t], r, m_t, out=pre[t])
            torch.ops.aten.leaky_relu.out(pre[t], slope, out=trajectory[t])
            r = trajectory[t]
        ctx.slope = slope
        ctx.save_for_backward(pre, trajectory, r0, m)
        return trajectory

    @staticmethod
    def backward(ctx, grad_trajectory: Tensor):
        pre, trajectory, r0, m = ctx.saved_tensors
        slope = ctx.slope
        steps = pre.shape[0]
        grad_trajectory = grad_trajectory.contiguous()
        # Usually only the last step carries a loss; skip the per-step add otherwise.
        grads_before_last = steps > 1 and bool(grad_trajectory[:-1].any())
        grad_pre = torch.empty_like(pre)
        grad_r = grad_trajectory[-1]
        for t in range(steps - 1, -1, -1):
            if t < steps - 1 and grads_before_last:
                grad_r = grad_r + grad_trajectory[t]
            torch.ops.aten.leaky_relu_backward.grad_input(
                grad_r, pre[t], slope, False, grad_input=grad_pre[t]
            )
            grad_r = grad_pre[t] @ m  # gradient reaching r(t-1)
        grad_m = None
        if ctx.needs_input_grad[2]:
            hidden = m.shape[0]
            grad_m = grad_pre[0].T @ r0
            if steps > 1:
                grad_m = torch.addmm(
                    grad_m, grad_pre[1:].reshape(-1, hidden).T, trajectory[:-1].reshape(-1, hidden)
                )
        grad_r0 = grad_r if ctx.needs_input_grad[1] else None
        grad_c = grad_pre if ctx.needs_input_grad[0] else None
        return grad_c, grad_r0, grad_m, None


def leaky_recurrence(c: Tensor, r0: Tensor, m: Tensor, slope: float) -> Tensor:
    """Trajectory ``[T, B, H]`` of ``r(t) = leaky_relu(r(t-1) @ m.T + c(t), slope)``.

    Args:
        c: per-step drive ``[T, B, H]``.
        r0: initial state ``[B, H]``.
        m: recurrent matrix ``[H, H]`` (row = target neuron).
        slope: negative slope of the leaky ReLU (>= 0).
    """
    if c.shape[0] == 0:
        raise ValueError("leaky_recurrence needs at least one time step")
    return LeakyRecurrence.apply(c.contiguous(), r0.contiguous(), m.contiguous(), float(slope))
