"""Data in: instance manifests, programmes and assumptions, tables and their validators, the matrix format.

The only layer that reads the user's files; everything is checked here, once, and trusted further down.
"""
