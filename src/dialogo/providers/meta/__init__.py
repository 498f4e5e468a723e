"""What the networks of Meta (Facebook Pages, Instagram, Threads) share: the Graph API."""
