"""What one run's page reads."""

from __future__ import annotations

from submissions.models import Run

# --- one run ---------------------------------------------------------------------------------

def run_layers(*, run: Run) -> list[dict]:
    """The run's per-layer sparsity bars (charts.layer_bars), each naming its module's type and
    its shape, read from the benchmark's model in the evaluator's registry."""
    from evaluator.benchmarks import get_benchmark

    from ..charts import layer_bars

    try:
        parameters = _model_parameters(get_benchmark(run.benchmark.name).model)
    except ValueError:  # a benchmark the registry no longer has: names only
        parameters = {}
    return layer_bars(run.record or {}, parameters)


_PARAMETERS: dict[str, dict] = {}


def _model_parameters(model: str) -> dict:
    if model not in _PARAMETERS:
        from evaluator.models import model_parameters

        _PARAMETERS[model] = model_parameters(model)
    return _PARAMETERS[model]
