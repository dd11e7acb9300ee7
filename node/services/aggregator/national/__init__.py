"""The national view: the groups this node follows, their events near a place, where members
are needed, their campaigns, and their endorsed candidates with the win rate.

Everything here reads what the node already holds (Peer and RemoteObject rows, filled by
the verified feed path); nothing is fetched. On a group's node that is the groups it
follows; on an aggregator it is the whole network. A distance search narrows rows with a
bounding box on the indexed latitude/longitude columns and measures only those.

One module per list: ``places`` (what a search is made around), ``groups``, ``events``,
``needed``, ``campaigns`` and ``candidates``; ``lists`` holds what every list shares (whose
objects are shown, sort keys, paging) and ``remote`` how a followed group's object is read.
Callers import the module they use; this package re-exports nothing.
"""
