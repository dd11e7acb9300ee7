"""Talking to other servers: actors, follows, the inbox, deliveries, pulled feeds."""
