"""Triggers, which the triggerer imports by the class path a deferred task serialized."""
