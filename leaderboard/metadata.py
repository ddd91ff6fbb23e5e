"""A method's name, paper metadata and tags: the slugs reserved for the built-ins, the length
caps' messages, the fixed tag vocabulary, BibTeX validation and keyword normalization. Plain
functions raising Django's ValidationError, shared by the forms, the API and the search
(leaderboard/selectors/search.py)."""

from __future__ import annotations

import logging
import re

from django.core.exceptions import ValidationError

# Three axes with two values each; a method has at most one value per axis.
TAG_AXES: dict[str, tuple[str, ...]] = {
    "granularity": ("unstructured", "structured"),
    "data_use": ("data-free", "data-driven"),
    "schedule": ("one-shot", "iterative"),
}
TAG_AXIS_LABELS = {"granularity": "Granularity", "data_use": "Data use", "schedule": "Schedule"}
VOCABULARY: dict[str, str] = {tag: axis for axis, tags in TAG_AXES.items() for tag in tags}

# A built-in's slug is "<tier>-<registry name>" (submissions.services.baseline_ensure): an entry
# may take none of them, now or in a later release, nor the bare tier words.
RESERVED_SLUG_PREFIXES = ("baseline-", "reference-", "builtin-")
RESERVED_SLUGS = frozenset({"baseline", "reference", "builtin"})

# The caps of a method's free texts (the model's fields; every form, the API and the admin take
# them from there): a description of more is an essay, and each character costs at save.
DESCRIPTION_MAX_CHARS = 20_000
BIBTEX_MAX_CHARS = 20_000
KEYWORDS_MAX = 10
KEYWORD_MAX_CHARS = 40


def name_caps(fields) -> None:
    """Make a form's too-long errors name the field and its cap ("Description is too long: at
    most 20000 characters (it has 20001)."), for every field of the form that has a max_length."""
    for name, field in fields.items():
        if getattr(field, "max_length", None):
            label = field.label or name.replace("_", " ").capitalize()
            field.error_messages["max_length"] = (f"{label} is too long: at most %(limit_value)d "
                                                  f"characters (it has %(show_value)d).")


def slug_reserved(slug: str) -> bool:
    """Whether the slug is a built-in's, or one a built-in may take: every baseline and reference
    method of the evaluator's registries, and anything under their prefixes."""
    from evaluator.pruning import BASELINES, REFERENCES

    builtins = {f"baseline-{n}" for n in BASELINES} | {f"reference-{n}" for n in REFERENCES}
    return slug in builtins or slug in RESERVED_SLUGS or slug.startswith(RESERVED_SLUG_PREFIXES)


def reserved_slug_message(slug: str, name: str | None = None) -> str:
    what = (f"The name {name[:100]!r} would give the method the address /m/{slug}/, which is"
            if name is not None else f"The address /m/{slug}/ is")
    return (f"{what} reserved for the site's built-in methods (no entry's address may start with "
            f"{', '.join(RESERVED_SLUG_PREFIXES)}): choose another name.")


def validate_method_name(name: str) -> str:
    """An entry's name, stripped; refused when its slug would be a reserved one (`slug_reserved`),
    so that no entry takes, or looks like, a built-in (the upload form and the API)."""
    from django.utils.text import slugify

    name = (name or "").strip()
    if slug_reserved(slugify(name)):
        raise ValidationError(reserved_slug_message(slugify(name), name=name), code="reserved")
    return name


def vocabulary_text() -> str:
    return "; ".join(f"{axis.replace('_', ' ')}: {', '.join(tags)}" for axis, tags in TAG_AXES.items())


def tag_axis(tag: str) -> str:
    """The axis of a tag of the vocabulary; an unknown tag is refused with the vocabulary named."""
    try:
        return VOCABULARY[tag]
    except KeyError:
        raise ValidationError(f"unknown tag {tag[:60]!r}; the tags are {vocabulary_text()} "
                              f"(free words go in the keywords)", code="tag") from None


def validate_tags(tags) -> dict[str, str]:
    """A list of tags -> {axis: tag}; refuses unknown tags and two tags of one axis."""
    chosen: dict[str, str] = {}
    for tag in tags:
        tag = str(tag).strip().lower()
        if not tag:
            continue
        axis = tag_axis(tag)
        if chosen.get(axis, tag) != tag:
            raise ValidationError(f"{chosen[axis]!r} and {tag!r} are both {axis.replace('_', ' ')} "
                                  f"tags; choose one", code="tag")
        chosen[axis] = tag
    return chosen


def normalize_keywords(value) -> str:
    """Free keywords, comma-separated (a string or a list) -> "a, b, c": lower case, single
    spaces, no duplicates, at most KEYWORDS_MAX of at most KEYWORD_MAX_CHARS characters, no
    commas inside one (the separator)."""
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    words = list(dict.fromkeys(" ".join(w.split()).lower() for w in items if w.strip()))
    if len(words) > KEYWORDS_MAX:
        raise ValidationError(f"{len(words)} keywords; at most {KEYWORDS_MAX}", code="keywords")
    long = [w for w in words if len(w) > KEYWORD_MAX_CHARS]
    if long:
        raise ValidationError(f"keyword {long[0][:60]!r}… is over {KEYWORD_MAX_CHARS} characters",
                              code="keywords")
    return ", ".join(words)


def keyword_list(keywords: str) -> list[str]:
    return [w for w in (keywords or "").split(", ") if w]


def validate_bibtex(text: str) -> str:
    """Return the BibTeX stripped; refuse text over BIBTEX_MAX_CHARS (by size, before parsing),
    text that bibtexparser cannot parse, text outside the entries, and anything but one entry.
    Stored as text and always shown escaped: markup inside is harmless, only shown."""
    text = (text or "").strip()
    if not text:
        return ""
    if len(text) > BIBTEX_MAX_CHARS:
        raise ValidationError(f"the BibTeX is {len(text) // 1024 or 1} KB ({len(text)} characters); "
                              f"the limit is {BIBTEX_MAX_CHARS} characters: paste one entry",
                              code="bibtex_size")
    import bibtexparser

    # bibtexparser logs each failed block; the error below says what failed.
    logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)
    library = bibtexparser.parse_string(text)
    if library.failed_blocks:
        block = library.failed_blocks[0]
        raise ValidationError(f"not valid BibTeX: the entry starting on line {block.start_line + 1} "
                              f"could not be parsed ({_reason(block)})", code="bibtex")
    # @comment{...} and %-lines are BibTeX comments; any other text outside an entry is not.
    stray = [c.comment.strip() for c in library.comments
             if type(c).__name__ == "ImplicitComment" and c.comment.strip()
             and not c.comment.strip().startswith("%")]
    if stray:
        raise ValidationError(f"not valid BibTeX: text outside an entry: {stray[0][:60]!r}",
                              code="bibtex")
    if len(library.entries) != 1:
        raise ValidationError(f"not valid BibTeX: expected one @entry{{key, ...}}, found "
                              f"{len(library.entries)}", code="bibtex")
    return text


def bibtex_fields(text: str) -> dict:
    """The paper fields a (valid, one-entry) BibTeX entry holds, as the method stores them:
    title (braces dropped), authors ("First Last, First Last"), venue (booktitle, else journal),
    year (a number), paper_url (url, else https://doi.org/<doi>). Fields the entry lacks are
    left out; text that does not parse gives {}."""
    if not (text or "").strip():
        return {}
    import bibtexparser

    logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)
    library = bibtexparser.parse_string(text)
    if len(library.entries) != 1:
        return {}
    raw = {k.lower(): " ".join(str(f.value).split()) for k, f in library.entries[0].fields_dict.items()}

    def plain(value: str) -> str:
        return value.replace("{", "").replace("}", "").strip()

    found = {}
    if plain(raw.get("title", "")):
        found["title"] = plain(raw["title"])[:300]
    if plain(raw.get("author", "")):
        names = [plain(n) for n in re.split(r"\s+and\s+", raw["author"]) if plain(n)]
        found["authors"] = ", ".join(" ".join(reversed([p.strip() for p in n.split(",", 1)])) if "," in n else n
                                     for n in names)[:500]
    venue = plain(raw.get("booktitle", "") or raw.get("journal", ""))
    if venue:
        found["venue"] = venue[:100]
    year = re.search(r"\d{4}", raw.get("year", ""))
    if year:
        found["year"] = int(year.group())
    url = plain(raw.get("url", ""))
    doi = plain(raw.get("doi", ""))
    if url.lower().startswith(("http://", "https://")):
        found["paper_url"] = url
    elif doi:
        found["paper_url"] = doi if doi.lower().startswith(("http://", "https://")) else f"https://doi.org/{doi}"
    return found


def _reason(block) -> str:
    error = getattr(block, "error", None)
    message = getattr(error, "abort_reason", "") or str(error or "") or "syntax error"
    return re.sub(r"\s+", " ", message).strip()[:120]
