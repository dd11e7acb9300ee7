"""The aggregator role: its directory of groups, their combined feed, the national view."""
