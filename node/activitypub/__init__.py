"""How this group looks to other servers: ActivityStreams documents and content negotiation.

Nothing here writes to the database; node/services/feed.py turns these documents into
signed feed entries, and node/views/activitypub.py serves them.
"""
