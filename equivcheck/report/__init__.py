"""Rendering results: failure messages, verdict tables, and the conventions report."""
