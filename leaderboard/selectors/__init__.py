"""What the leaderboard pages read, one concern per module: the home page and a benchmark's
curves (board), a board's run aggregates cached beside its ranking (boardstate), search,
rankings, the ranked table's screens (paging), the built-ins still filling in (fillin), one run
(runs), one method (methods). Plain functions with keyword arguments; views stay thin.

Only finished runs count toward results. Who may see a method is one rule,
`Method.objects.visible_to(user)` (leaderboard/models.py; `Submission.objects.visible_to`,
`Run.objects.visible_to` and `Run.objects.listed()` apply it to submissions and runs). Which
version counts and the mask twins are the submissions app's reads (submissions/selectors/),
re-exported here for the pages.
"""

from submissions.models import LISTED_RUN
from submissions.selectors import (
    benchmark_mask_twins,
    compressions_text,
    counted_submissions,
    counted_versions,
    mask_twin_lines,
    mask_twin_summary,
    method_versions,
    run_mask_twins,
)

from .board import (
    CURVE_COLUMNS,
    FINISHED,
    benchmark_curves,
    benchmark_dense_top1,
    benchmark_latency_machines,
    benchmark_listed_runs,
    benchmark_progress,
    benchmark_summaries,
)
from .boardstate import BoardState, board_fingerprint, board_state
from .fillin import BUILTIN_RUN, DURATION_SAMPLE, FillIn, builtin_fill_in, builtin_methods_without_results
from .frontier import FrontierTiming, benchmark_frontier, frontier_distances, frontier_timing
from .methods import code_visible, method_archived, method_code, method_curves, method_latest_submission, method_runs
from .board import board_axis, speedup_column
from .paging import PAGE_ROWS, TablePage, charted_methods, compare_choices, table_page
from .rankings import (
    RankedAt,
    RankedMethod,
    benchmark_rank_at,
    benchmark_ranking,
    benchmark_speedup_ranking,
    benchmarks_overview,
    board_ranking,
    ranking_key,
)
from .runs import run_layers
from .search import SEARCH_PARAMS, methods_search, search_active, search_params

__all__ = [
    "LISTED_RUN",
    "benchmark_mask_twins",
    "compressions_text",
    "counted_submissions",
    "counted_versions",
    "mask_twin_lines",
    "mask_twin_summary",
    "method_versions",
    "run_mask_twins",
    "FINISHED",
    "CURVE_COLUMNS",
    "benchmark_listed_runs",
    "benchmark_summaries",
    "benchmark_dense_top1",
    "benchmark_latency_machines",
    "benchmark_curves",
    "benchmark_progress",
    "BUILTIN_RUN",
    "DURATION_SAMPLE",
    "FillIn",
    "builtin_fill_in",
    "builtin_methods_without_results",
    "benchmark_frontier",
    "frontier_distances",
    "frontier_timing",
    "FrontierTiming",
    "method_latest_submission",
    "code_visible",
    "method_code",
    "method_runs",
    "method_curves",
    "method_archived",
    "RankedMethod",
    "RankedAt",
    "benchmark_ranking",
    "board_ranking",
    "ranking_key",
    "BoardState",
    "board_fingerprint",
    "board_state",
    "PAGE_ROWS",
    "TablePage",
    "table_page",
    "charted_methods",
    "compare_choices",
    "benchmark_speedup_ranking",
    "board_axis",
    "speedup_column",
    "benchmark_rank_at",
    "benchmarks_overview",
    "run_layers",
    "SEARCH_PARAMS",
    "search_params",
    "search_active",
    "methods_search",
]
