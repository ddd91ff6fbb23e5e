"""Uploaded files are kept in memory and never beyond PRUNEBOARD_MAX_UPLOAD_BYTES, whatever the
request says its length is.

The request's declared size is capped before this runs (pruneboard.middleware); this bounds the
file itself, for a body that understates its length or arrives without one. A file that goes past
the limit is dropped at once and the rest of it only counted, so the form gets an empty file
that carries its real size, and `services.read_upload` refuses it with the usual message
("the file is 300 KB; the limit is 256 KB")."""

from __future__ import annotations

from io import BytesIO

from django.conf import settings
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopFutureHandlers


class DroppedUpload(InMemoryUploadedFile):
    """A file over the limit: its bytes were dropped as they arrived; `size` is what was sent."""


class LimitedUploadHandler(FileUploadHandler):
    """The only upload handler (settings.FILE_UPLOAD_HANDLERS): every file on this site is a
    strategy file of at most PRUNEBOARD_MAX_UPLOAD_BYTES, so memory is the right place for it
    and no other handler (nor a temporary file) ever sees it."""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.file = BytesIO()
        self.dropped = False
        raise StopFutureHandlers()

    def receive_data_chunk(self, raw_data, start):
        if not self.dropped and start + len(raw_data) > settings.PRUNEBOARD_MAX_UPLOAD_BYTES:
            self.file.close()
            self.file, self.dropped = BytesIO(), True
        if not self.dropped:
            self.file.write(raw_data)
        return None  # nothing for later handlers

    def file_complete(self, file_size):
        self.file.seek(0)
        cls = DroppedUpload if self.dropped else InMemoryUploadedFile
        return cls(file=self.file, field_name=self.field_name, name=self.file_name,
                   content_type=self.content_type, size=file_size, charset=self.charset,
                   content_type_extra=self.content_type_extra)
