"""Pure Python shape arithmetic: output sizes, layer arithmetic and the parsing of shape text.

No numpy, no files, no printing: everything above builds on it.
"""
