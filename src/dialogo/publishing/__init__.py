"""Publishing: campaigns, posts and their per-channel variants, approvals, the dispatcher."""
