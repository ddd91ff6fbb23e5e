"""`/healthz`: what a load balancer or Docker's health check asks of a web process. 200 "ok" when
this process answers and reaches the database; 503 with the reason when it does not."""

from django.db import DatabaseError, connection
from django.http import HttpResponse


def healthz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return HttpResponse(f"database unreachable: {type(exc).__name__}", status=503,
                            content_type="text/plain")
    return HttpResponse("ok", content_type="text/plain")
