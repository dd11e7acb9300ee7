"""The node as gunicorn serves it, plus a bare Flask endpoint to compare against.

Used only by bench/pages.py: ``/__bench/bare`` is a separate, empty Flask app mounted beside
the node, so both are measured through the same server, workers and connections. It is not
part of the product.
"""

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from node import create_app

MOUNT = "/__bench"
BARE_PATH = MOUNT + "/bare"

bare = Flask("bare")


@bare.get("/bare")
def fixed_string():
    return "bare"


node = create_app()
app = DispatcherMiddleware(node, {MOUNT: bare})
