"""Repair engines: candidate generation, in-sandbox validation, the search over candidates."""
