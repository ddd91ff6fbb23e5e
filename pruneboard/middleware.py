"""Refuse an oversized upload by its declared length, before anything reads its body."""

from __future__ import annotations

import math

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse

from submissions.forms import SubmissionForm

FIELDS_ALLOWANCE = 64 * 1024  # room for the form's other fields and the multipart framing


def upload_too_large_message(length: int) -> str:
    return (f"the upload is {math.ceil(length / 1024)} KB; files are limited to "
            f"{settings.PRUNEBOARD_MAX_UPLOAD_BYTES // 1024} KB")


class UploadSizeMiddleware:
    """A POST to the upload form or the upload API whose Content-Length is over the file limit
    plus FIELDS_ALLOWANCE gets 413 at once: the form page with the reason, or
    `{"file": [reason]}` from the API. Under WSGI Django never reads past Content-Length, and a
    file that lies about its size inside the body is cut off by submissions.uploads."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "POST":
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > settings.PRUNEBOARD_MAX_UPLOAD_BYTES + FIELDS_ALLOWANCE:
                if request.path == reverse("submit"):
                    return self._form_page(request, length)
                if request.path == reverse("api:submissions"):
                    return JsonResponse({"file": [upload_too_large_message(length)]}, status=413)
        return self.get_response(request)

    @staticmethod
    def _form_page(request, length: int):
        return render(request, "submissions/submit.html",
                      {"form": SubmissionForm(), "upload_error": upload_too_large_message(length)},
                      status=413)
