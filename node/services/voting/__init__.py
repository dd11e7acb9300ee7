"""Ballots: papers, sealing, tellers, the box and the count."""
