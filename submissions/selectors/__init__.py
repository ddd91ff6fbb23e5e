"""Reads of submissions and runs, one concern per module: who may see a submission and its
progress (status), which version of a method counts (versions), runs with identical masks
(twins). The leaderboard's pages read these through `leaderboard.selectors`."""

from .status import (
    submission_errors_visible,
    submission_failed_runs,
    submission_list_for_owner,
    submission_progress,
    submission_visible,
)
from .twins import benchmark_mask_twins, compressions_text, mask_twin_lines, mask_twin_summary, run_mask_twins
from .versions import counted_submissions, counted_versions, method_versions

__all__ = [
    "submission_visible",
    "submission_errors_visible",
    "submission_progress",
    "submission_failed_runs",
    "submission_list_for_owner",
    "counted_versions",
    "counted_submissions",
    "method_versions",
    "benchmark_mask_twins",
    "run_mask_twins",
    "mask_twin_summary",
    "mask_twin_lines",
    "compressions_text",
]
