from django.apps import AppConfig


class SubmissionsConfig(AppConfig):
    name = "submissions"

    def ready(self):
        from django.conf import settings

        if settings.PRUNEBOARD_WEB_PRELOAD:
            # The upload checks need the strategy API, and so torch: 2.5 s to import on an idle
            # machine, over 30 s measured on a loaded one, which gunicorn's timeout turned into a
            # 500 on the first upload each web process served. Imported once, before serving.
            import evaluator.pruning  # noqa: F401
