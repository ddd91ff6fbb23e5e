from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse

from .metadata import TAG_AXES, keyword_list


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


def _tag_field(axis: str):
    return models.CharField(max_length=16, blank=True, choices=[(t, t) for t in TAG_AXES[axis]])


class Method(models.Model):
    """A pruning method: a baseline or a reference method of the evaluator (both built in, no
    owner, always shown), or a researcher's entry. An entry's name is unique per owner (case
    aside); its submissions are its versions (Submission.version, 1, 2, ...)."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=120, unique=True)
    description = models.TextField(blank=True, help_text="Markdown; rendered safely")
    paper_url = models.URLField(blank=True)
    code_url = models.URLField(blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="methods")
    is_baseline = models.BooleanField(default=False)
    is_reference = models.BooleanField(
        default=False, help_text="a built-in reference method (SNIP, GraSP, SynFlow, LAMP, L1-norm filters): "
                                 "a tier between the baselines and the entries, always shown")
    is_public = models.BooleanField(default=True)
    is_hidden = models.BooleanField(default=False, help_text="hidden by a moderator")
    created = models.DateTimeField(auto_now_add=True)
    # The paper (all optional; leaderboard/metadata.py validates) and the tags.
    title = models.CharField(max_length=300, blank=True)
    authors = models.CharField(max_length=500, blank=True, help_text="as in the paper, e.g. "
                                                                     "'Lee, Ajanthan, Torr'")
    venue = models.CharField(max_length=100, blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    bibtex = models.TextField(blank=True, help_text="one BibTeX entry, validated; shown escaped")
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

    class Meta:
        ordering = ["created", "id"]
        constraints = [models.UniqueConstraint(Lower("name"), "owner", name="method_name_unique_per_owner",
                                               condition=models.Q(owner__isnull=False))]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("method", args=[self.slug])

    @property
    def listed(self) -> bool:
        """Shown on the public leaderboard."""
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
