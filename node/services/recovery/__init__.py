"""Backups, restores, and recovering a restored feed from the network.

``guard`` is the mark a restore leaves (the feed takes no new entry until it is cleared);
``backup`` makes and restores snapshots; ``network`` fetches this group's own entries back
from a node that holds them (a follower, twin or aggregator), verifies them and puts them
back. This module imports none of them, so the feed can import ``guard`` alone.
"""
