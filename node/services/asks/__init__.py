"""Asks across the network: publishing one, receiving one, and the counts in between."""
