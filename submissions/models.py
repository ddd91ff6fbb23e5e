from django.conf import settings
from django.db import models
from django.urls import reverse

from leaderboard.models import Benchmark, Method, listed_q


def upload_path(instance, filename):
    """Where uploads were kept before they moved into the database (StrategyFile); migration
    0001 names it, and 0011 reads the old files from there."""
    return f"strategies/{instance.sha256[:2]}/{instance.sha256}.py"


class SubmissionQuerySet(models.QuerySet):
    def listed(self) -> "SubmissionQuerySet":
        """Submissions on the leaderboards: of a listed method, not withdrawn by their owner."""
        return self.filter(listed_q("method__"), withdrawn=False)

    def visible_to(self, user) -> "SubmissionQuerySet":
        """Listed submissions, plus the user's own (and those of the user's methods); staff see
        every submission. The method's part is `Method.objects.visible_to`'s rule."""
        if user.is_staff:
            return self.all()
        visible = listed_q("method__") & models.Q(withdrawn=False)
        if user.is_authenticated:
            visible |= models.Q(owner=user) | models.Q(method__owner=user)
        return self.filter(visible)


# A run on the leaderboards: of a listed method, from a submission its owner has not withdrawn
# (a condition, for aggregates' filters; `Run.objects.listed()` for querysets).
LISTED_RUN = listed_q("submission__method__") & models.Q(submission__withdrawn=False)


class RunQuerySet(models.QuerySet):
    def listed(self) -> "RunQuerySet":
        """Runs on the leaderboards (`LISTED_RUN`)."""
        return self.filter(LISTED_RUN)

    def visible_to(self, user) -> "RunQuerySet":
        """The runs of the submissions `user` may see."""
        return self.filter(submission__in=Submission.objects.visible_to(user))


class Submission(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received"
        CHECKING = "checking"
        QUEUED = "queued"
        RUNNING = "running"
        FINISHED = "finished"
        FAILED = "failed"
        CANCELLED = "cancelled"

    FINAL = (Status.FINISHED, Status.FAILED, Status.CANCELLED)

    method = models.ForeignKey(Method, on_delete=models.CASCADE, related_name="submissions")
    version = models.PositiveIntegerField(default=1, help_text="the method's version this upload "
                                                               "is: 1, 2, ... in upload order")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="submissions")
    filename = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64, db_index=True)
    baseline = models.CharField(max_length=64, blank=True, help_text="evaluator baseline name")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(blank=True)
    benchmarks = models.ManyToManyField(Benchmark, related_name="submissions")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    finished = models.DateTimeField(null=True, blank=True)
    withdrawn = models.BooleanField(default=False, help_text="withdrawn by its owner: its runs leave the "
                                                             "leaderboards and the CSVs; others no longer see it")

    objects = SubmissionQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [models.UniqueConstraint(fields=["method", "version"],
                                               name="one_submission_per_method_version")]

    def __str__(self):
        return f"submission {self.pk} of {self.method} (v{self.version})"

    def get_absolute_url(self):
        return reverse("submission", args=[self.pk])

    @property
    def has_code(self) -> bool:
        """An uploaded strategy (a baseline or reference method has no file)."""
        return bool(self.filename) and StrategyFile.objects.filter(submission_id=self.pk).exists()

    @property
    def code(self) -> str:
        """The uploaded file as text ("" for a built-in)."""
        stored = StrategyFile.objects.filter(submission_id=self.pk).first()
        return stored.text if stored else ""


class StrategyFile(models.Model):
    """An upload's bytes (at most PRUNEBOARD_MAX_UPLOAD_BYTES), kept in the database: a worker on
    any host reads them from here, so web and workers share nothing but the database and the
    broker (no shared disk). A table of its own, so that loading submissions never loads files."""

    submission = models.OneToOneField(Submission, on_delete=models.CASCADE, primary_key=True,
                                      related_name="strategy_file")
    data = models.BinaryField()

    def __str__(self):
        return f"file of {self.submission}"

    @property
    def text(self) -> str:
        return bytes(self.data).decode("utf-8", "replace")


class Run(models.Model):
    """One (submission, benchmark, compression, seed): the unit of work and of results."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        FINISHED = "finished"
        FAILED = "failed"
        CANCELLED = "cancelled"

    FINAL = (Status.FINISHED, Status.FAILED, Status.CANCELLED)

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="runs")
    benchmark = models.ForeignKey(Benchmark, on_delete=models.CASCADE, related_name="runs")
    compression = models.FloatField()
    seed = models.IntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED,
                              db_index=True)
    attempt = models.PositiveIntegerField(default=0)
    worker_host = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True, help_text="frames of the submitter's own code")
    user_error = models.BooleanField(default=False, help_text="failed in the submitter's code")
    limit_hit = models.CharField(max_length=32, blank=True, db_index=True,
                                 help_text="the sandbox limit the strategy ran into, if any")
    sandbox = models.CharField(max_length=16, blank=True,
                               help_text="bwrap, none (unsandboxed: marked on the site) or trusted (baseline)")
    created = models.DateTimeField(auto_now_add=True)
    # The database is the queue of record (submissions.dispatch): a queued run with no
    # `queued_at` waits here for the dispatcher; one with it was handed to the broker then.
    queued_at = models.DateTimeField(null=True, blank=True, db_index=True,
                                     help_text="handed to the broker (empty: waiting for the dispatcher)")
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    # Every save() stamps it (a bulk .update() does not): with the runs' statuses, a board's
    # fingerprint follows a record changed in place (leaderboard/selectors/boardstate.py).
    updated = models.DateTimeField(auto_now=True)
    # The worker executing the run holds a lease, renewed by its heartbeat; a result is only
    # accepted from the holder of the current lease, and the reaper re-queues expired ones.
    lease_token = models.CharField(max_length=32, blank=True)
    lease_expires = models.DateTimeField(null=True, blank=True, db_index=True)
    # The headline metrics as columns (for ranking and charts); `record` holds every column
    # of the evaluator's per-run record (evaluator/columns.py) for CSV downloads.
    top1 = models.FloatField(null=True, blank=True)
    top5 = models.FloatField(null=True, blank=True)
    pre_top1 = models.FloatField(null=True, blank=True)
    actual_compression = models.FloatField(null=True, blank=True)
    compression_error = models.FloatField(null=True, blank=True)
    speedup = models.FloatField(null=True, blank=True)
    # Read by the board on every view (grouped, averaged): from JSON, each run's record would be
    # parsed for them, which cost more than the rest of the query (docs/benchmarks.md).
    masks_sha256 = models.CharField(max_length=64, blank=True)
    effective_compression = models.FloatField(null=True, blank=True)
    effective_speedup = models.FloatField(null=True, blank=True)
    disconnected = models.BooleanField(null=True, blank=True)
    measured_speedup = models.FloatField(null=True, blank=True, help_text=(
        "measured speedup at batch 64: dense / pruned milliseconds per forward, timed interleaved "
        "on the worker (the record's measured_speedup_b64)"))
    latency_device = models.CharField(max_length=255, blank=True, help_text=(
        "the machine the latencies were timed on (CPU model or GPU name, then the device)"))
    seconds = models.FloatField(null=True, blank=True, help_text=(
        "worker seconds the run cost (the record's time_total_s): a batched run's share of its "
        "batch, a shared run its own few; the fill-in's time to go is taken from them"))
    record = models.JSONField(default=dict, blank=True)
    # What the figures are a function of (evaluator.benchmarks.result_key): a later run with the
    # same key reuses this run's result (submissions.services.sharing). Filled with the result.
    result_key = models.CharField(max_length=64, blank=True, db_index=True,
                                  help_text="hash of target, protocol, weights, masks, seed, device kind")

    # column -> the record's key it is copied from (take_record)
    FROM_RECORD = {"top1": "top1", "top5": "top5", "pre_top1": "pre_top1", "actual_compression": "compression",
                   "compression_error": "compression_error", "speedup": "speedup",
                   "masks_sha256": "masks_sha256", "effective_compression": "effective_compression",
                   "effective_speedup": "effective_speedup", "disconnected": "disconnected",
                   "measured_speedup": "measured_speedup_b64", "latency_device": "latency_device",
                   "result_key": "result_key", "seconds": "time_total_s"}
    TEXT_COLUMNS = {"masks_sha256", "latency_device", "result_key"}  # "" when the record lacks them

    objects = RunQuerySet.as_manager()

    class Meta:
        ordering = ["benchmark__position", "compression", "seed"]
        constraints = [models.UniqueConstraint(fields=["submission", "benchmark", "compression", "seed"],
                                               name="one_run_per_submission_benchmark_compression_seed")]
        indexes = [models.Index(fields=["benchmark", "status"]),
                   # a board's fingerprint (per status: count, ids, latest finished and updated:
                   # index-only once vacuumed) and the fill-in's median duration (its latest
                   # finished runs)
                   models.Index(fields=["benchmark", "status", "finished", "id", "updated"],
                                name="run_board_finished"),
                   # the fill-in's median duration over a queue's benchmarks (its latest finished runs)
                   models.Index(fields=["status", "finished"], name="run_status_finished"),
                   # the dispatcher's (submissions.queue_order): the runs waiting in the database,
                   # and those in the broker, however many are queued (benchmarks/dispatch_tick.py)
                   models.Index(fields=["submission", "benchmark"], name="run_waiting",
                                condition=models.Q(status="queued", queued_at__isnull=True)),
                   models.Index(fields=["queued_at"], name="run_in_broker",
                                condition=models.Q(status="queued", queued_at__isnull=False)),
                   # the fill-in's share reads a queue's last dispatches: a few entries from the
                   # end of each of its benchmarks, however long the other queues' history is
                   # (covering, on PostgreSQL: without the submission in it, the planner walked
                   # `queued_at`'s index through every queue's dispatches instead)
                   models.Index(fields=["benchmark", "queued_at"], include=["submission"], name="run_dispatched",
                                condition=models.Q(queued_at__isnull=False))]

    def __str__(self):
        return f"run {self.pk}: {self.benchmark} x{self.compression:g} seed {self.seed}"

    def get_absolute_url(self):
        return reverse("run-csv", args=[self.pk])

    @classmethod
    def columns_from(cls, record: dict) -> dict:
        """column -> its value copied from the record (FROM_RECORD); a key the record lacks
        leaves its column empty (`columns_from({})`: no result)."""
        return {column: (record.get(key) or "")[:255] if column in cls.TEXT_COLUMNS else record.get(key)
                for column, key in cls.FROM_RECORD.items()}

    def take_record(self, record: dict) -> None:
        """Store the evaluator's record and the columns copied from it; not saved."""
        self.record = record
        for column, value in self.columns_from(record).items():
            setattr(self, column, value)


class MasksBlob(models.Model):
    """Each distinct masks, once, by their SHA-256 (Mask.sha256(), a run's `masks_sha256`): the
    bytes of an evaluator/maskfile.py file, bit-packed as they crossed the sandbox. Written when
    a run's result is recorded; the run page offers them for download (`/r/<run>/masks`)."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    data = models.BinaryField()
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"masks {self.sha256[:12]}"


class ResultCheck(models.Model):
    """A would-be-shared run computed anyway (PRUNEBOARD_VERIFY_SHARED) and compared with the
    result it would have reused. `differences` empty: identical; otherwise the run kept its
    computed record, and the operator sees the columns here (admin) and in the worker's log."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="result_checks")
    original = models.ForeignKey(Run, null=True, on_delete=models.SET_NULL, related_name="+",
                                 help_text="the run whose result would have been reused")
    result_key = models.CharField(max_length=64)
    differences = models.JSONField(default=list, blank=True, help_text="columns that differ")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self):
        return f"check of run {self.run_id}: {'identical' if not self.differences else 'MISMATCH'}"


class Quota(models.Model):
    """One row per user: the lock that serializes the user's uploads, so that two at the same
    instant cannot both pass the per-user limits (services.submission_create)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                primary_key=True, related_name="quota")
    locked = models.DateTimeField(null=True, blank=True,
                                  help_text="when an upload that was not refused last took the lock")

    def __str__(self):
        return f"quota of {self.user}"


class Rerun(models.Model):
    """A reproducibility check: a finished run evaluated again from scratch, shown beside the
    original. On the same kind of device the masks must be identical, and on CPU every metric."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        FINISHED = "finished"
        FAILED = "failed"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="reruns")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    created = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True,
                                     help_text="handed to the broker (empty: waiting for the dispatcher)")
    started = models.DateTimeField(null=True, blank=True, help_text="taken by a worker")
    finished = models.DateTimeField(null=True, blank=True)
    record = models.JSONField(default=dict, blank=True)
    masks_identical = models.BooleanField(null=True)
    differences = models.JSONField(default=list, blank=True, help_text="columns that differ")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self):
        return f"re-run {self.pk} of run {self.run_id}"

    @property
    def identical(self) -> bool | None:
        return None if self.status != self.Status.FINISHED else not self.differences


class ArchivedResult(models.Model):
    """A run's result under an earlier evaluation protocol, kept visible after the run was
    re-queued under the current one (admin: "Re-queue every entry")."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="archived")
    protocol_version = models.PositiveIntegerField()
    protocol_hash = models.CharField(max_length=32, blank=True)
    top1 = models.FloatField(null=True)
    record = models.JSONField(default=dict)
    archived = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-archived", "-id"]


class WorkerHeartbeat(models.Model):
    """A Celery worker's report of itself (submissions.capabilities): its queues, its device, and
    per benchmark of those queues whether it can run it. Written when the worker is ready and
    every PRUNEBOARD_WORKER_HEARTBEAT_SECONDS after; stale after PRUNEBOARD_WORKER_STALE_SECONDS."""

    hostname = models.CharField(max_length=255, unique=True, help_text="Celery's node name, e.g. local@host")
    queues = models.JSONField(default=list)
    device = models.CharField(max_length=128, blank=True)
    # {benchmark name: {"weights": problem or "", "data": problem or "", "weights_sha256": "..."}}
    capabilities = models.JSONField(default=dict)
    started = models.DateTimeField(help_text="when the worker reported ready")
    last_seen = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["hostname"]

    def __str__(self):
        return f"worker {self.hostname}"
