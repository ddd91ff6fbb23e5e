"""Every architecture a benchmark can name. Importing this package registers them all."""

from . import cifar_resnet, cifar_vgg, digits, lenet, mnist1d, torchvision_models  # noqa: F401
from .registry import (MODELS, ModelSpec, get_model, list_models, model_input_shape, model_parameters, model_width,
                       register_model, scaled)

__all__ = ["MODELS", "ModelSpec", "get_model", "list_models", "model_input_shape", "model_parameters",
           "model_width", "register_model", "scaled"]
