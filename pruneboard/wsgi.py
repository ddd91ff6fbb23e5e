import atexit
import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pruneboard.settings")
application = get_wsgi_application()

# What is loaded by now (Django, the apps, pandas, plotly, ...) lives as long as the process.
# Freezing it keeps it out of the garbage collector's full passes, which otherwise walk every
# one of those objects in the middle of some request: on /b/<benchmark>/ with 207 methods the
# p95 fell from about 190 ms to 107 ms (benchmarks/leaderboard_latency.py, docs/benchmarks.md).
gc.freeze()
# ... and given back at exit, so that the interpreter's teardown frees them: frozen, triton's
# bindings (imported with torch) were never freed and nanobind printed 81 lines of "leaked
# function ..." at every stop of the web server.
atexit.register(gc.unfreeze)
