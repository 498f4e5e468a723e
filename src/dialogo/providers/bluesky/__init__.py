"""Bluesky (AT Protocol): the provider, its thin client over the ``atproto`` SDK, and the
text rules (graphemes, facets at UTF-8 byte offsets). See :mod:`.provider`."""
