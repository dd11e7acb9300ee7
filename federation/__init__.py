"""Branchline's protocol library: no Flask, no database, no globals (see README.md)."""
