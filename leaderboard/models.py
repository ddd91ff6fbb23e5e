from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse

from .metadata import BIBTEX_MAX_CHARS, DESCRIPTION_MAX_CHARS, TAG_AXES, keyword_list


class Benchmark(models.Model):
    """A mirror of one entry of the evaluator's registry (`manage.py sync_benchmarks`): a run
    target, i.e. a benchmark on one track (evaluator/tracks.py), "digits-mlp" or "digits-mlp/init"."""

    name = models.CharField(max_length=64, unique=True)  # the target's name: base, or base/track
    track = models.CharField(max_length=32, default="after", help_text="the comparison setup (evaluator/tracks.py)")
    base = models.CharField(max_length=64, blank=True, help_text="the benchmark this is a track of")
    dataset = models.CharField(max_length=64)
    model = models.CharField(max_length=64)
    description = models.TextField(blank=True)
    embedded = models.BooleanField(default=False)
    queue = models.CharField(max_length=16, default="cpu")
    reference_top1 = models.FloatField(null=True, blank=True)
    published_top1 = models.FloatField(
        null=True, blank=True, help_text="the publisher's top-1 of pinned published weights "
                                         "(evaluator/published.py), shown until a worker measures it")
    weights_sha256 = models.CharField(max_length=64, blank=True)
    compressions = models.JSONField(default=list)
    seeds = models.JSONField(default=list)
    protocol_version = models.PositiveIntegerField(default=1)
    protocol_hash = models.CharField(max_length=32, blank=True)
    position = models.PositiveIntegerField(default=0)
    frontier = models.JSONField(
        default=dict, blank=True,
        help_text="the dense frontier (evaluator/frontier.py Frontier.as_dict): the dense network's params "
                  "and MACs and the smaller dense networks drawn on the board; {} where it has none")

    class Meta:
        ordering = ["position", "name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("benchmark", args=[self.name])

    @property
    def track_title(self) -> str:
        """The track's title from the evaluator's registry ("at initialization")."""
        from evaluator.tracks import TRACKS

        return TRACKS[self.track].title if self.track in TRACKS else self.track

    @property
    def track_summary(self) -> str:
        from evaluator.tracks import TRACKS

        return TRACKS[self.track].summary if self.track in TRACKS else ""


class FrontierLatency(models.Model):
    """One dense frontier network (evaluator/frontier.py) timed against its benchmark's dense
    network on one worker machine, at batch 1 and 64 (evaluator.frontier.frontier_latencies:
    interleaved medians). Written once per machine, torch version and thread count when a worker
    starts (submissions.services.frontier_timing); the measured-speedup chart draws the frontier
    from the rows of the machine the board's runs were timed on."""

    benchmark = models.ForeignKey(Benchmark, on_delete=models.CASCADE, related_name="frontier_latencies")
    network = models.CharField(max_length=96, help_text="the frontier network, '<benchmark>@<width>'")
    machine = models.CharField(max_length=255, help_text=(
        "CPU model or GPU name, then the device: as a run's latency_device"))
    torch_version = models.CharField(max_length=64)
    threads = models.PositiveIntegerField(help_text="torch CPU threads fixed while timing")
    ms_b1 = models.FloatField(help_text="the frontier network's median milliseconds per forward, batch 1")
    ms_b64 = models.FloatField(help_text="the same at batch 64")
    dense_ms_b1 = models.FloatField(help_text="the benchmark's dense network, batch 1, timed interleaved")
    dense_ms_b64 = models.FloatField(help_text="the same at batch 64")
    repetitions = models.PositiveIntegerField(default=30)
    hostname = models.CharField(max_length=255, blank=True, help_text="the worker that measured it")
    measured = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["benchmark", "machine", "network"]
        constraints = [models.UniqueConstraint(fields=["benchmark", "network", "machine", "torch_version", "threads"],
                                               name="one_frontier_latency_per_machine")]

    def __str__(self):
        return f"{self.network} on {self.machine}"

    @property
    def speedup_b64(self) -> float:
        """Dense milliseconds over this network's at batch 64 (as a run's measured_speedup)."""
        return self.dense_ms_b64 / self.ms_b64


def _tag_field(axis: str):
    return models.CharField(max_length=16, blank=True, choices=[(t, t) for t in TAG_AXES[axis]])


def listed_q(prefix: str = "") -> models.Q:
    """Who may see a method, as a query condition: a built-in (baseline or reference method),
    or an entry public and not hidden by a moderator. `prefix` is the path to the method
    ("submission__method__"). `Method.listed` is the same rule for one loaded row."""
    return (models.Q(**{f"{prefix}is_baseline": True}) | models.Q(**{f"{prefix}is_reference": True})
            | models.Q(**{f"{prefix}is_public": True, f"{prefix}is_hidden": False}))


class MethodQuerySet(models.QuerySet):
    def listed(self) -> "MethodQuerySet":
        """The methods on the public leaderboard."""
        return self.filter(listed_q())

    def visible_to(self, user) -> "MethodQuerySet":
        """Listed methods, plus the user's own; staff see every method. Every page, API view,
        CSV and admin action that filters methods by viewer calls this."""
        if user.is_staff:
            return self.all()
        if user.is_authenticated:
            return self.filter(listed_q() | models.Q(owner=user))
        return self.listed()


class Method(models.Model):
    """A pruning method: a baseline or a reference method of the evaluator (both built in, no
    owner, always shown, found by `builtin_name`), or a researcher's entry. An entry's name is
    unique per owner (case aside); its submissions are its versions (Submission.version, 1, 2,
    ...). An entry's slug is never one the built-ins use or may use (metadata.slug_reserved)."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=120, unique=True)
    # A TextField's max_length caps only its form field: the validator caps the model too.
    description = models.TextField(blank=True, max_length=DESCRIPTION_MAX_CHARS,
                                   validators=[MaxLengthValidator(DESCRIPTION_MAX_CHARS)],
                                   help_text="Markdown; rendered safely when saved")
    description_html = models.TextField(blank=True, editable=False,
                                        help_text="the description rendered and sanitized (leaderboard/markdown.py)")
    paper_url = models.URLField(blank=True)
    code_url = models.URLField(blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="methods")
    is_baseline = models.BooleanField(default=False)
    is_reference = models.BooleanField(
        default=False, help_text="a built-in reference method (SNIP, GraSP, SynFlow, LAMP, L1-norm filters): "
                                 "a tier between the baselines and the entries, always shown")
    builtin_name = models.CharField(
        max_length=64, blank=True, default="", editable=False,
        help_text="a built-in's name in the evaluator's registry ('random', 'lamp'); empty for an entry")
    is_public = models.BooleanField(default=True)
    is_hidden = models.BooleanField(default=False, help_text="hidden by a moderator")
    created = models.DateTimeField(auto_now_add=True)
    # The paper (all optional; leaderboard/metadata.py validates) and the tags.
    title = models.CharField(max_length=300, blank=True)
    authors = models.CharField(max_length=500, blank=True, help_text="as in the paper, e.g. "
                                                                     "'Lee, Ajanthan, Torr'")
    venue = models.CharField(max_length=100, blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    bibtex = models.TextField(blank=True, max_length=BIBTEX_MAX_CHARS,
                              validators=[MaxLengthValidator(BIBTEX_MAX_CHARS)],
                              help_text="one BibTeX entry, validated; shown escaped")
    granularity = _tag_field("granularity")
    data_use = _tag_field("data_use")
    schedule = _tag_field("schedule")
    keywords = models.CharField(max_length=500, blank=True,
                                help_text="free keywords, normalized to 'a, b, c' (lower case)")
    code_public = models.BooleanField(
        default=True, help_text="its uploaded files are shown on its page, with its public results; "
                                "unticked: only its owner and the moderators read the code")
    counted_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="the version the leaderboards count, on each benchmark where it is "
                                         "complete (its owner's choice); empty: the latest complete version")

    objects = MethodQuerySet.as_manager()

    class Meta:
        ordering = ["created", "id"]
        constraints = [models.UniqueConstraint(Lower("name"), "owner", name="method_name_unique_per_owner",
                                               condition=models.Q(owner__isnull=False)),
                       models.UniqueConstraint(fields=["builtin_name"], name="method_builtin_unique",
                                               condition=~models.Q(builtin_name=""))]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("method", args=[self.slug])

    def save(self, *args, **kwargs):
        """Render the description whenever it may have changed: pages show description_html and
        never parse Markdown (leaderboard/markdown.py). A queryset .update() of the description
        must set description_html too (markdown.render)."""
        from .markdown import render

        fields = kwargs.get("update_fields")
        if fields is None or "description" in fields:
            self.description_html = render(self.description)
            if fields is not None:
                kwargs["update_fields"] = {*fields, "description_html"}
        super().save(*args, **kwargs)

    def clean(self):
        """An entry (any method but a built-in) may not take a built-in's slug or name (the
        admin's forms call this; the upload form and the API check the name themselves)."""
        from django.core.exceptions import ValidationError
        from django.utils.text import slugify

        from .metadata import reserved_slug_message, slug_reserved

        super().clean()
        if self.builtin_name:
            return
        errors = {}
        if self.slug and slug_reserved(self.slug):
            errors["slug"] = reserved_slug_message(self.slug)
        if self.name and slug_reserved(slugify(self.name)):
            errors["name"] = reserved_slug_message(slugify(self.name), name=self.name)
        if errors:
            raise ValidationError(errors)

    @property
    def listed(self) -> bool:
        """Shown on the public leaderboard (`listed_q` for querysets)."""
        return self.is_baseline or self.is_reference or (self.is_public and not self.is_hidden)

    @property
    def tags(self) -> list[str]:
        """The method's tags of the fixed vocabulary, axis by axis."""
        return [t for t in (self.granularity, self.data_use, self.schedule) if t]

    @property
    def keyword_list(self) -> list[str]:
        return keyword_list(self.keywords)

    @property
    def tier(self) -> str:
        """'baseline', 'reference' or 'entry'."""
        return "baseline" if self.is_baseline else "reference" if self.is_reference else "entry"


def cap(field: str) -> int:
    """A method field's length cap: the model's max_length, the one place every form, the API
    and the admin take it from."""
    return Method._meta.get_field(field).max_length
