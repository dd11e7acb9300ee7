"""The node as gunicorn serves it, plus a bare Flask endpoint to compare against.

Used only by bench/pages.py: ``/__bench/bare`` is a separate, empty Flask app mounted beside
the node, so both are measured through the same server, workers and connections; and
``/__bench/uncached/`` is the same node with the visitors' page cache turned off, so the
cost of rendering the page every time is measured too. Neither is part of the product.
"""

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from node import create_app
from node.config import read_environment

MOUNT = "/__bench"
BARE_PATH = MOUNT + "/bare"
UNCACHED_MOUNT = MOUNT + "/uncached"

bare = Flask("bare")


@bare.get("/bare")
def fixed_string():
    return "bare"


node = create_app()
uncached = create_app({**read_environment(), "PAGE_CACHE_SECONDS": 0})
app = DispatcherMiddleware(node, {UNCACHED_MOUNT: uncached, MOUNT: bare})
