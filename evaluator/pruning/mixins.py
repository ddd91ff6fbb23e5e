"""`GradientMixin` and `ActivationMixin`: gradients and activations on the calibration batch.

Both follow ShrinkBench's names and return numpy copies keyed by module object. Differences,
chosen so a strategy cannot change the model it is given and runs are repeatable:
- gradients are taken with the model in eval mode (ShrinkBench used train mode, which updates
  BatchNorm running statistics and makes dropout random) and via torch.autograd.grad, so no
  `.grad` attribute is touched; each module's previous train/eval flag is restored;
- activations are recorded for the prunable modules only unless `only_prunable=False` is asked
  for (a full record of a ResNet on a big batch is gigabytes); a module called twice in one
  forward pass keeps its first call.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn


@contextmanager
def _eval_mode(model: nn.Module):
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in flags:
            module.train(training)


def _to_model_device(model: nn.Module, tensor):
    param = next(model.parameters(), None)
    return tensor.to(param.device) if param is not None and isinstance(tensor, torch.Tensor) else tensor


def _numpy(tensor):
    return tensor.detach().cpu().numpy().copy() if isinstance(tensor, torch.Tensor) else tensor


def get_activations(model: nn.Module, inputs, modules=None) -> dict:
    """{module: (input activation, output activation)} as numpy, one eval-mode forward pass."""
    modules = list(model.modules()) if modules is None else list(modules)
    activations = {}

    def record(module, args, output):
        if module not in activations and args and isinstance(args[0], torch.Tensor):
            activations[module] = (_numpy(args[0]), _numpy(output))

    hooked_forward(model, inputs, modules, record)
    return activations


def hooked_forward(model: nn.Module, inputs, modules, hook) -> None:
    """One eval-mode, no-grad forward pass with `hook(module, args, output)` on each of `modules`;
    the hooks are removed and every module's train/eval flag restored afterwards."""
    hooks = [m.register_forward_hook(hook) for m in modules]
    try:
        with _eval_mode(model), torch.no_grad():
            model(_to_model_device(model, inputs))
    finally:
        for handle in hooks:
            handle.remove()


def get_param_gradients(model: nn.Module, inputs, outputs, loss_func=None) -> dict:
    """{module: {param_name: gradient}} of the loss (cross-entropy by default) on one batch."""
    loss_func = nn.CrossEntropyLoss() if loss_func is None else loss_func
    owners = [(m, n, p) for m in model.modules() for n, p in m.named_parameters(recurse=False)]
    unique = list({id(p): p for _, _, p in owners}.values())
    flags = [p.requires_grad for p in unique]
    try:
        for p in unique:
            p.requires_grad_(True)
        with _eval_mode(model), torch.enable_grad():
            loss = loss_func(model(_to_model_device(model, inputs)), _to_model_device(model, outputs))
            grads = torch.autograd.grad(loss, unique, allow_unused=True)
    finally:
        for p, flag in zip(unique, flags):
            p.requires_grad_(flag)
    by_id = {id(p): (torch.zeros_like(p) if g is None else g) for p, g in zip(unique, grads)}
    gradients: dict = {}
    for module, name, param in owners:
        gradients.setdefault(module, {})[name] = _numpy(by_id[id(param)])
    return gradients


class GradientMixin:
    """Adds `param_gradients()` / `module_param_gradients(m)`: cross-entropy gradients."""

    def update_gradients(self):
        if self.inputs is None or self.outputs is None:
            raise ValueError(f"{type(self).__name__} needs the calibration batch: inputs and outputs (labels)")
        self._param_gradients = get_param_gradients(self.model, self.inputs, self.outputs)

    def param_gradients(self, only_prunable: bool = True, update: bool = False) -> dict:
        """{module: {"weight": ndarray}} for the prunable modules (all parameters otherwise)."""
        if update or not hasattr(self, "_param_gradients"):
            self.update_gradients()
        if only_prunable:
            return {m: self.module_param_gradients(m) for m in self.prunable}
        return self._param_gradients

    def module_param_gradients(self, module: nn.Module, update: bool = False) -> dict:
        if update or not hasattr(self, "_param_gradients"):
            self.update_gradients()
        grads = self._param_gradients[module]
        return {"weight": grads["weight"]} if module in self.prunable else grads

    def input_gradients(self):
        raise NotImplementedError("input gradients are not provided")

    def output_gradients(self):
        raise NotImplementedError("output gradients are not provided")


class ActivationMixin:
    """Adds `activations()` / `module_activations(m)`: (input, output) on the calibration batch."""

    def update_activations(self, only_prunable: bool = True):
        if self.inputs is None:
            raise ValueError(f"{type(self).__name__} needs the calibration batch: inputs")
        modules = self.prunable if only_prunable else None
        self._activations = get_activations(self.model, self.inputs, modules)
        self._activations_complete = not only_prunable

    def activations(self, only_prunable: bool = True) -> dict:
        """{module: (input ndarray, output ndarray)} for the prunable modules (all if asked)."""
        if not hasattr(self, "_activations") or (not only_prunable and not self._activations_complete):
            self.update_activations(only_prunable)
        if only_prunable:
            return {m: self._activations[m] for m in self.prunable}
        return self._activations

    def module_activations(self, module: nn.Module):
        if not hasattr(self, "_activations") or (module not in self._activations and not self._activations_complete):
            self.update_activations(only_prunable=module in self.prunable)
        return self._activations[module]
