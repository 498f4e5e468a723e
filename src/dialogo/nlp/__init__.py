"""Language understanding as pure functions: language, sentiment, emotion, topics, intent."""
