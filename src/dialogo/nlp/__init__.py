"""Language understanding as pure functions: language, sentiment, emotion, topics, intent.

The shared entry point is :func:`analyse`; it never touches a database or the network.
"""

from dialogo.nlp.analysis import Analysis, analyse, analyse_many

__all__ = ["Analysis", "analyse", "analyse_many"]
