"""The owner's forms on a method's page: its paper metadata and tags, and entering it on more
benchmarks. Validation is leaderboard/metadata.py's, shared with the API."""

from __future__ import annotations

from django import forms

from submissions import capabilities
from submissions.forms import BenchmarkChoiceField, WebURLField

from .metadata import TAG_AXES, TAG_AXIS_LABELS, name_caps, normalize_keywords, validate_bibtex, vocabulary_text
from .models import Benchmark, Method, cap


def _tag_choice(axis: str) -> forms.ChoiceField:
    return forms.ChoiceField(
        required=False, label=TAG_AXIS_LABELS[axis], choices=[("", "—")] + [(t, t) for t in TAG_AXES[axis]],
        error_messages={"invalid_choice": f"%(value)s is not a {axis.replace('_', ' ')} tag; the tags "
                                          f"are {vocabulary_text()}"})


class MethodEditForm(forms.ModelForm):
    paper_url = WebURLField(required=False, label="Paper URL", help_text="Optional; http:// or https://.")
    code_url = WebURLField(required=False, label="Code URL", help_text="Optional; http:// or https://.")
    year = forms.IntegerField(required=False, min_value=1950, max_value=2100)
    bibtex = forms.CharField(required=False, label="BibTeX", widget=forms.Textarea(attrs={"rows": 6}),
                             strip=True, help_text="One entry, e.g. @inproceedings{key, title={...}, ...}.")
    granularity = _tag_choice("granularity")
    data_use = _tag_choice("data_use")
    schedule = _tag_choice("schedule")
    keywords = forms.CharField(required=False, max_length=cap("keywords"),
                               help_text="Free keywords, comma-separated (e.g. saliency, lottery ticket).")
    is_public = forms.BooleanField(required=False, label="Public",
                                   help_text="Shown on the leaderboard. Unticked: only you and the moderators see it.")
    code_public = forms.BooleanField(required=False, label="Publish the code",
                                     help_text="Anyone who sees the results can read your uploaded files on this page. "
                                               "Unticked: the results stay public, the code only you and the moderators read.")

    class Meta:
        model = Method
        fields = ["title", "authors", "venue", "year", "bibtex", "paper_url", "code_url", "description",
                  "granularity", "data_use", "schedule", "keywords", "is_public", "code_public"]
        widgets = {"description": forms.Textarea(attrs={"rows": 5})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        name_caps(self.fields)  # every text field's cap is the model's (BibTeX's: validate_bibtex)

    def clean_bibtex(self):
        # The size is checked before parsing, whatever the field's length: a 1 MB paste gets
        # "the BibTeX is 1024 KB ..." and is never parsed.
        return validate_bibtex(self.cleaned_data["bibtex"])

    def clean_keywords(self):
        return normalize_keywords(self.cleaned_data["keywords"])


class EnterBenchmarksForm(forms.Form):
    benchmarks = BenchmarkChoiceField(queryset=Benchmark.objects.none(), widget=forms.CheckboxSelectMultiple,
                                      help_text="The latest version runs there at every compression and seed.")

    def __init__(self, *args, entered=(), **kwargs):
        super().__init__(*args, **kwargs)
        # as the upload form: only what some live worker can run now is offered, and refused if
        # posted all the same (submissions.capabilities)
        self.availability = capabilities.availability()
        runnable = [name for name, a in self.availability.items() if a.runnable]
        self.fields["benchmarks"].queryset = (Benchmark.objects.filter(name__in=runnable)
                                              .exclude(pk__in=[b.pk for b in entered]))

    def clean_benchmarks(self):
        chosen = self.cleaned_data["benchmarks"]
        try:
            capabilities.require_runnable(chosen, self.availability)
        except capabilities.BenchmarkUnavailable as exc:
            raise forms.ValidationError(str(exc), code="unavailable") from None
        return chosen
