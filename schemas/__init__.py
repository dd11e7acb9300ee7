"""marshmallow schemas: the JSON API and form input, and (later) ActivityStreams documents.

This package imports only marshmallow and the standard library.
"""
