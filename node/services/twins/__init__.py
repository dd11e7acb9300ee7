"""Twinning: paired groups and RSVPs across them."""
