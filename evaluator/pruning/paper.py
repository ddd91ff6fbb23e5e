"""The paper a built-in reference method is written from: what its page on the site shows
(title, authors, venue, year, link, one BibTeX entry) and its tags, one per axis of the site's
vocabulary (granularity: unstructured / structured; data use: data-free / data-driven;
schedule: one-shot / iterative). Plain data: the evaluator never reads it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Paper:
    title: str
    authors: str  # "First Last, First Last", as in the paper
    venue: str  # short: "ICLR"
    year: int
    url: str  # http(s)
    bibtex: str  # one entry
    granularity: str  # unstructured | structured
    data_use: str  # data-free | data-driven
    schedule: str  # one-shot | iterative
    keywords: str = ""  # "a, b"
