"""Messages to members and guests: kinds, choices, unsubscribe links, composing, bounces.

``kinds`` names every kind of message and what may be chosen for it; ``preferences``
holds the choices and the one check every message passes; ``unsubscribe`` makes and reads
the one-click links; ``outbox`` composes and queues; ``deliverability`` records bounces.
The queue and the worker's sending are ``services/mail.py``.
"""
