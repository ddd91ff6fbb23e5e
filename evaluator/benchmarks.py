"""The benchmark catalogue: every benchmark pruneboard scores, and each one's other tracks.

Types and the registry are in evaluator/benchmark_registry.py, the tracks in evaluator/tracks.py;
this module imports both (one way) and fills the registry. Import registry names from here
(`from evaluator.benchmarks import get_benchmark`): importing it is what registers the entries.
"""

from __future__ import annotations

from .benchmark_registry import (BENCHMARKS, COMPRESSIONS, DEFAULT_TRACK, PROTOCOL_VERSION, SEEDS, Benchmark,
                                 FinetuneProtocol, get_benchmark, list_benchmarks, longest_time_limit,
                                 register_benchmark, result_key, run_identity)
from .tracks import register_target

__all__ = ["BENCHMARKS", "COMPRESSIONS", "DEFAULT_TRACK", "PROTOCOL_VERSION", "SEEDS", "Benchmark", "FinetuneProtocol",
           "get_benchmark", "list_benchmarks", "longest_time_limit", "register_benchmark", "result_key",
           "run_identity"]

_SMALL_FINETUNE = FinetuneProtocol(
    optimizer="adam", lr=1e-3, epochs=10, batch_size=64, schedule="cosine"
)
_CIFAR_FINETUNE = FinetuneProtocol(
    optimizer="sgd", lr=1e-2, momentum=0.9, nesterov=True, weight_decay=5e-4,
    epochs=30, batch_size=128, schedule="cosine", patience=0,
)
_CIFAR_PRETRAIN = FinetuneProtocol(
    optimizer="sgd", lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4,
    epochs=200, batch_size=128, schedule="cosine",
)
_IMAGENET_FINETUNE = FinetuneProtocol(
    optimizer="sgd", lr=1e-3, momentum=0.9, weight_decay=1e-4, epochs=10, batch_size=256,
)

# --- Embedded: PyPI packages only, a CPU, minutes. Weights are committed under weights/.
register_benchmark(Benchmark(
    name="digits-mlp", dataset="digits", model="digits_mlp",
    finetune=_SMALL_FINETUNE,
    pretrain=FinetuneProtocol(optimizer="adam", lr=1e-3, epochs=60, batch_size=64),
    weights_sha256="5a7f0f0f6e2c957186277a77783d38c3b97144008e320fb2f49f453d40238ff3",
    reference_top1=0.9833,
    embedded=True, queue="cpu", time_limit_s=900, mask_seconds=60,
    description="scikit-learn's 8x8 digits, a 2-hidden-layer MLP",
))
register_benchmark(Benchmark(
    name="digits-cnn", dataset="digits", model="digits_cnn",
    finetune=_SMALL_FINETUNE,
    pretrain=FinetuneProtocol(optimizer="adam", lr=1e-3, epochs=40, batch_size=64),
    weights_sha256="99614f3ddf92b6bf283e62cb162d598a5c26882bee1acccc771ca93cf04df786",
    reference_top1=0.9833,
    embedded=True, queue="cpu", time_limit_s=900, mask_seconds=60,
    description="scikit-learn's 8x8 digits, a small 2-conv CNN",
))
register_benchmark(Benchmark(
    name="mnist1d-cnn", dataset="mnist1d", model="mnist1d_cnn",
    finetune=FinetuneProtocol(optimizer="adam", lr=1e-3, epochs=10, batch_size=128),
    pretrain=FinetuneProtocol(optimizer="sgd", lr=5e-2, momentum=0.9, nesterov=True,
                              weight_decay=5e-4, epochs=150, batch_size=64),
    weights_sha256="649ee6062e11e508f6a0adfe17d6b1163725c06bcbaa5bce2c56263acc2212f8",
    reference_top1=0.9220,
    embedded=True, queue="cpu", time_limit_s=900, mask_seconds=90,
    description="MNIST-1D (generated locally by the mnist1d package), a 1-D ConvNet",
))

# --- Standard: from the literature; need data on local disk (and, in practice, a GPU).
# Their weights are produced by `python -m evaluator pretrain NAME` where the data is, and
# pinned by the SHA-256 written beside them (see weights.py).
for _name, _model in (("cifar10-resnet20", "cifar_resnet20"), ("cifar10-resnet56", "cifar_resnet56"),
                      ("cifar10-resnet110", "cifar_resnet110"), ("cifar10-vgg", "cifar_vgg")):
    register_benchmark(Benchmark(
        name=_name, dataset="cifar10", model=_model, finetune=_CIFAR_FINETUNE,
        pretrain=_CIFAR_PRETRAIN, calibration_size=128,
        description=f"CIFAR-10, {_model}",
    ))
register_benchmark(Benchmark(
    name="mnist-lenet", dataset="mnist", model="lenet5",
    finetune=FinetuneProtocol(optimizer="sgd", lr=1e-2, momentum=0.9, epochs=10, batch_size=128),
    pretrain=FinetuneProtocol(optimizer="sgd", lr=5e-2, momentum=0.9, epochs=20, batch_size=128),
    description="MNIST, LeNet-5",
))
register_benchmark(Benchmark(
    name="imagenet-resnet18", dataset="imagenet", model="resnet18",
    finetune=_IMAGENET_FINETUNE,
    pretrain=FinetuneProtocol(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=1e-4,
                              epochs=90, batch_size=256),
    calibration_size=256, time_limit_s=48 * 3600, mask_seconds=1800,
    description="ImageNet (ILSVRC-2012), torchvision ResNet-18",
))

# --- the targets. Initial weights: `python -m evaluator init NAME` (deterministic); the dense
# top-1 is the test top-1 of the unpruned initial weights trained under the init track's
# protocol, seed 0 (benchmarks/track_dense.py).
INITIAL = {  # base: (SHA-256 of <base>.init.safetensors, dense top-1 on the init track)
    "digits-mlp": ("44b36ef8879d5c7752870c6106c3d8c3df9977e6e917d862f590972e802422fe", 0.9778),
    "digits-cnn": ("a0c1428244283d156bf66f073156096943b2e997a5e81e983c5303a950d49ced", 0.9833),
    "mnist1d-cnn": ("16c0652b8e10c3fc6fe9818ef97c9e4a657a66e98d426489eee6a7f9478eecc5", 0.9120),
}
for _base, (_sha, _top1) in INITIAL.items():
    register_target(_base, "init", weights_sha256=_sha, reference_top1=_top1)
register_target("mnist1d-cnn", "long")

# The structured track: on the CNNs. Its compressions are those whole-channel masks can reach,
# at most (evaluator/structured.py `structured_reach`; a test keeps these in step).
STRUCTURED = {"digits-cnn": 32, "mnist1d-cnn": 8, "cifar10-resnet20": 32, "cifar10-resnet56": 32,
              "cifar10-resnet110": 32, "cifar10-vgg": 64, "imagenet-resnet18": 16}
for _base, _reach in STRUCTURED.items():
    register_target(_base, "structured", compressions=tuple(c for c in COMPRESSIONS if c <= _reach))
# The 2:4 track: where the layers have a 2:4 layout (input dimensions divisible by 4; a first
# convolution on 1 or 3 channels stays dense).
for _base in ("digits-mlp", "digits-cnn", "mnist1d-cnn", "cifar10-resnet20", "cifar10-resnet56",
              "cifar10-resnet110", "cifar10-vgg", "imagenet-resnet18"):
    register_target(_base, "nm24")
