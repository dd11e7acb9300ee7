"""What the group organises: campaigns, candidates, news, events and everything around an event."""
