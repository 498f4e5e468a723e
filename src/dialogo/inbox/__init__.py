"""The unified inbox: conversations, contacts, assignment, SLA, rules, saved replies,
suggestions."""
