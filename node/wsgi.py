"""The WSGI entry point for gunicorn and other servers: ``node.wsgi:app``.

Configured entirely by BRANCHLINE_* environment variables (see deploy/).
"""

from . import create_app
from .config import keep_files_private
from .keys import check_at_start

keep_files_private()  # before anything is written: see node.config
app = create_app()
check_at_start(app)  # a node that has published and lost its keys must not start
