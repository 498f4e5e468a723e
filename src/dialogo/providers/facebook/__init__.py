"""Facebook Pages through the Graph API (Facebook Login, Page access tokens)."""
