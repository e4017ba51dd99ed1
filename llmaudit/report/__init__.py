"""Rendering: the only package that imports rich or plotly. Every renderer reads a Report's `data`."""
