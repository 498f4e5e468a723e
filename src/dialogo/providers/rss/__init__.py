"""RSS and Atom feeds as a listening source (feedparser)."""
