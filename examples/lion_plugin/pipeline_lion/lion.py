"""Lion (EvoLved Sign Momentum, Chen et al. 2023) as a torch optimizer."""

import torch


class Lion(torch.optim.Optimizer):
    """θ ← θ(1 − ηλ) − η·sign(β₁m + (1−β₁)g);  m ← β₂m + (1−β₂)g."""

    def __init__(self, params, lr=1e-4, weight_decay=0.0, beta1=0.9, beta2=0.99):
        super().__init__(params, {"lr": lr, "weight_decay": weight_decay, "betas": (beta1, beta2)})

    @torch.no_grad()
    def step(self, closure=None):
        """One Lion step for every parameter with a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["exp_avg"] = torch.zeros_like(p)
                m = state["exp_avg"]
                p.mul_(1 - group["lr"] * group["weight_decay"])
                p.add_(torch.sign(m * beta1 + p.grad * (1 - beta1)), alpha=-group["lr"])
                m.mul_(beta2).add_(p.grad, alpha=1 - beta2)
        return loss
