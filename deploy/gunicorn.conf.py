"""gunicorn settings for a Branchline node: `gunicorn -c deploy/gunicorn.conf.py`.

Every setting can be changed from the environment, so the systemd unit, the container
and a shell all use this one file.
"""

import multiprocessing
import os

wsgi_app = "node.wsgi:app"

# Where to listen: behind nginx on the same machine, loopback; in a container, 0.0.0.0:8000.
bind = os.environ.get("BRANCHLINE_BIND", "127.0.0.1:8000").split(",")

# Sync workers, one request at a time each: the node's requests spend their time in Python
# (signatures, proofs, templates, the ORM), and nginx in front (deploy/nginx.conf) buffers
# slow clients, so a worker never waits on one. The worker kind hardly changes what a request
# costs: a bare Flask endpoint took 0.32-0.39 ms of server CPU per request under 3 sync workers
# (`bench/pages.py`: wrk, 32 connections, a connection per request as sync workers close
# them), 0.38 ms under 2 gthread workers x 4 threads on the same terms (`--threads 4
# --close`) and 0.28 ms when gthread keeps the connections open (`--threads 4`); 2 busy
# cores, machine: 10 million additions in 0.26-0.28 s CPU (issue 19). The inbox
# (bench/ingest.py) accepted more under sync. GUNICORN_THREADS above 1 makes gunicorn use
# gthread workers instead: for a node whose requests mostly wait on something.
# Workers: one per core (at least 2, so one request waiting on a peer never holds up the
# node; at most 8). The usual 2 x cores + 1 is for workers that mostly wait; ours mostly
# compute, and more processes than cores take turns on them, each turn costing CPU. On 2
# cores, 2 workers against 3 (issue 19, the same runs minutes apart): the inbox took a
# plain post for 4.55 ms of CPU against 5.22 ms (324/s against 287/s,
# bench/inbox_fedify.py --workers N); signed feed entries 266/s against 212/s and 312/s
# against 303/s (bench/ingest.py); every page as fast or faster (bench/pages.py: the bare
# endpoint 3,573/s against 3,416/s, the member's home 0.257x against 0.235x of it); 5
# workers took 230-270 entries/s where 3 took 290-340. Raise WEB_CONCURRENCY for a node
# whose requests often wait on slow peers.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
workers = int(os.environ.get("WEB_CONCURRENCY", max(2, min(multiprocessing.cpu_count(), 8))))
threads = int(os.environ.get("GUNICORN_THREADS", 1))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = 30
keepalive = 5
# Workers are never recycled (gunicorn's max_requests = 0, its default). Recycling every
# 2,000 requests (+0-200 jitter) stalled the requests queued behind a worker while its
# replacement loaded the app: bench/gunicorn_settings.py, 20,000 x GET / over 32 connections,
# 3 sync workers on the busy 2-core machine (machine: 10M additions in 0.32 s CPU), gave p99
# 586 ms and a slowest answer of 2,286 ms with recycling (9 restarts) against p99 515 ms and
# 665 ms without; the workers' memory stayed at 282 MiB in both runs, so there is no leak to
# guard against. (Issue 16 measured p99 1.2-1.5 s with it, 48-117 ms without, flat memory
# over 50,000 requests.) Should a leak appear, set GUNICORN_CMD_ARGS="--max-requests 50000".

# Only the reverse proxy may set X-Forwarded-*; set this to its address if it is not local.
# The app itself trusts one proxy hop when BRANCHLINE_PROXY_FIX=1 (see deploy/branchline.env).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None  # empty: no access log
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Client (as the proxy saw it), request, status, bytes, time taken, and the request id the
# node's own lines carry (node/logs.py). Invite and password-reset links carry their token
# in the path, so keep this log as private as the database.
access_log_format = (
    '%({x-forwarded-for}i)s %(h)s "%(r)s" %(s)s %(B)s %(D)sus "%(a)s" %({x-request-id}o)s'
)
proc_name = "branchline"


def on_starting(server):
    """Create the instance folder and its secrets once, before the workers race to do it."""
    from node.config import (
        ensure_private_dir,
        instance_path_from,
        load_or_create_secret,
        read_environment,
    )

    settings = read_environment()
    instance = ensure_private_dir(instance_path_from(settings))
    if not settings.get("SECRET_KEY"):
        load_or_create_secret(instance, "secret_key")
    _empty_metrics_folder()


def _empty_metrics_folder():
    # prometheus-client's multi-process mode (node/metrics.py) keeps each worker's counts in
    # files there: the counts of a server that has stopped must not be added to this one's.
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return
    os.makedirs(folder, mode=0o700, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith(".db"):
            os.unlink(os.path.join(folder, name))


def child_exit(server, worker):
    """Tell prometheus-client a worker has gone, so its live gauges stop counting."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    """Keep what the worker loaded at start-up (the app, its models, templates) out of the
    garbage collector's full passes: fewer, shorter pauses in the middle of requests."""
    import gc

    gc.freeze()
