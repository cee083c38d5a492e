"""Scan on push: the inventory of an image's packages, the vulnerability database, matching, findings, gates.

`model` holds the values the parts exchange; each part (inventory, vulnerability database, matching,
the scan job, the gates) is a module or sub-package of its own that speaks in those values.
"""
