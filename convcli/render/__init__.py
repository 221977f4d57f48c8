"""Rendering: the only importer of rich. Widgets, one report module per command, JSON payloads.

Functions build and return renderables; they never print.
"""
