"""The WSGI entry point for gunicorn and other servers: ``node.wsgi:app``.

Configured entirely by BRANCHLINE_* environment variables (see deploy/).
"""

from . import create_app

app = create_app()
