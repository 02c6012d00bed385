"""Parsing and applying code edits; unified diffs."""
