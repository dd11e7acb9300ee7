"""Feeds for people's own tools: the group's events as iCalendar, its news as Atom.

The builders take the group, the items and the feed's own address and return the
document as bytes; they run no queries (the services choose what goes in) and carry only
what the group's pages already show.
"""
