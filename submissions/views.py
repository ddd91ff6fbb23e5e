
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from leaderboard import services as board_services

from . import dispatch, selectors, services
from .forms import SubmissionForm
from .models import Submission


@login_required
def submit(request):
    form = SubmissionForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            submission, created = services.submission_create(
                user=request.user, upload=data["file"], name=data["name"],
                benchmarks=data["benchmarks"], description=data["description"],
                paper_url=data["paper_url"], code_url=data["code_url"], is_public=data["public"])
        except services.LimitExceeded as exc:
            form.add_error(None, str(exc))
        except services.UploadRejected as exc:
            form.add_error("file", str(exc))
        else:
            method = submission.method
            # a new method takes the box's choice; an unticked box also makes an existing one's code private
            if method.code_public != data["code_public"] and (method.submissions.count() == 1 or not data["code_public"]):
                board_services.method_update(method=method, user=request.user, data={"code_public": data["code_public"]})
            messages.info(request, _upload_message(submission, created))
            return redirect(submission)
    return render(request, "submissions/submit.html", {"form": form})


def _upload_message(submission: Submission, created: bool) -> str:
    added = ", ".join(b.name for b in submission.added_benchmarks)
    if created:
        return f"Uploaded as version {submission.version} of {submission.method.name}."
    if added:
        return (f"You already submitted this file (version {submission.version} of "
                f"{submission.method.name}); it is now also entered on {added}.")
    return ("You already submitted this file; here is that submission "
            f"(version {submission.version} of {submission.method.name}). "
            "To have the leaderboards count it, press “Count this version”.")


def _visible_submission(request, pk: int) -> Submission:
    submission = get_object_or_404(Submission.objects.select_related("method", "owner"), pk=pk)
    if not selectors.submission_visible(submission=submission, user=request.user):
        raise Http404("no such submission")
    return submission


def submission_detail(request, pk: int):
    submission = _visible_submission(request, pk)
    show_errors = selectors.submission_errors_visible(submission=submission, user=request.user)
    ctx = {"submission": submission, "method": submission.method, "progress": _progress(submission),
           "benchmarks": submission.benchmarks.all(), "show_errors": show_errors,
           "failed_runs": selectors.submission_failed_runs(submission=submission) if show_errors else [],
           "twins": selectors.mask_twin_lines(summary=selectors.mask_twin_summary(
               twins=selectors.run_mask_twins(runs=submission.runs.all())))}
    return render(request, "submissions/submission.html", ctx)


def _progress(submission: Submission) -> dict:
    """The page's state and its poller's JSON: runs, counts, and the queue position."""
    return {**selectors.submission_progress(submission=submission),
            "queue_position": dispatch.queue_position(submission)}


def submission_progress(request, pk: int):
    submission = _visible_submission(request, pk)
    return JsonResponse(_progress(submission))




@login_required
def my_submissions(request):
    submissions = selectors.submission_list_for_owner(user=request.user)
    return render(request, "submissions/my_submissions.html", {"submissions": submissions})




@login_required
@require_POST
def submission_withdraw(request, pk: int):
    """Its owner withdraws the submission (POST withdraw=1) or restores it (withdraw=0)."""
    submission = _visible_submission(request, pk)
    withdraw = request.POST.get("withdraw", "1") != "0"
    cancelled = services.submission_withdraw(submission=submission, user=request.user, withdrawn=withdraw)
    if withdraw:
        messages.success(request, "Withdrawn: its runs are off the leaderboards and the CSVs, and only you and the "
                                  f"moderators see it{f'; {cancelled} runs not yet done were cancelled' if cancelled else ''}.")
    else:
        messages.success(request, "Restored: its finished runs count again.")
    return redirect(submission)
