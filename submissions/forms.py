from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from leaderboard.metadata import name_caps, validate_method_name
from leaderboard.models import Benchmark, cap

from . import capabilities

WEB_SCHEMES = ("http", "https")


class WebURLField(forms.URLField):
    """A link shown on the site: http:// or https:// only (never javascript:, data:, ftp:)."""

    default_validators = [URLValidator(schemes=list(WEB_SCHEMES))]

    def __init__(self, **kwargs):
        kwargs.setdefault("assume_scheme", "https")
        kwargs.setdefault("max_length", cap("paper_url"))
        super().__init__(**kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        scheme = urlsplit(value).scheme.lower() if value else ""
        if value and scheme not in WEB_SCHEMES:
            raise ValidationError(
                "Only http:// and https:// links are accepted (this one is %(scheme)s:).",
                code="scheme", params={"scheme": scheme})
        return value


class BenchmarkChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, benchmark):
        where = "CPU, minutes" if benchmark.embedded else "GPU worker"
        return f"{benchmark.name} ({benchmark.model} on {benchmark.dataset}, {benchmark.track_title}; {where})"


class SubmissionForm(forms.Form):
    file = forms.FileField(
        label="Strategy file",
        help_text=f"One .py file, at most {settings.PRUNEBOARD_MAX_UPLOAD_BYTES // 1024} KB, that "
                  "defines a subclass of evaluator.pruning.Pruning.",
        widget=forms.ClearableFileInput(attrs={"accept": ".py,text/x-python"}))
    name = forms.CharField(max_length=cap("name"), help_text="The method's name on the leaderboard.")
    description = forms.CharField(required=False, max_length=cap("description"),
                                  widget=forms.Textarea(attrs={"rows": 5}),
                                  help_text=f"Optional, Markdown: what the method does, in a few lines "
                                            f"(at most {cap('description'):,} characters).")
    paper_url = WebURLField(required=False, label="Paper URL", help_text="Optional; http:// or https://.")
    code_url = WebURLField(required=False, label="Code URL", help_text="Optional; http:// or https://.")
    benchmarks = BenchmarkChoiceField(
        queryset=Benchmark.objects.all(), widget=forms.CheckboxSelectMultiple,
        help_text="Each benchmark runs at all of its compression ratios and seeds, on the tracks "
                  "ticked: name/init prunes the initial weights and trains from scratch.")
    public = forms.BooleanField(required=False, initial=True, label="Public",
                                help_text="Show the results on the leaderboard. Unticked: only "
                                          "you (and the moderators) see them.")
    code_public = forms.BooleanField(
        required=False, initial=True, label="Publish the code with the results",
        help_text="Ticked: anyone who can see the results can read this file on the method's page. "
                  "Unticked: the results can be public while the code stays private (you and the "
                  "moderators read it). A method whose code is private stays so until you publish it "
                  "on its edit page.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        name_caps(self.fields)
        # Only the benchmarks some live worker can run are offered (submissions.capabilities);
        # the others are listed with what is missing, and refused if posted all the same.
        self.availability = found = capabilities.availability()
        field = self.fields["benchmarks"]
        rows = [(b, found.get(b.name) or capabilities.Availability(False, "unknown")) for b in Benchmark.objects.all()]
        field.choices = [(b.pk, field.label_from_instance(b)) for b, a in rows if a.runnable]
        field.initial = [b.pk for b, a in rows if a.runnable and b.embedded and b.track == "after"]
        self.unavailable = [(b, a.missing) for b, a in rows if not a.runnable]
        self.waiting_for_worker = any(a.waiting for a in found.values())
        known = ", ".join(Benchmark.objects.values_list("name", flat=True))
        for code in ("invalid_choice", "invalid_pk_value"):  # an unknown id, a malformed one
            field.error_messages[code] = (
                f"%(pk)s is not a benchmark and track of this site; known: {known}"
                if code == "invalid_pk_value" else
                f"%(value)s is not a benchmark and track of this site; known: {known}")

    def clean_name(self):
        return validate_method_name(self.cleaned_data["name"])

    def clean_benchmarks(self):
        chosen = self.cleaned_data["benchmarks"]
        try:
            capabilities.require_runnable(chosen, self.availability)
        except capabilities.BenchmarkUnavailable as exc:
            raise ValidationError(str(exc), code="unavailable") from None
        return chosen
