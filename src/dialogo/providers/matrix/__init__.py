"""Matrix: any homeserver's client-server API through matrix-nio (see ``provider.py``)."""
