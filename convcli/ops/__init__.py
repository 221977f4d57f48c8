"""numpy compute: the lesson's correlations, conv2d, padding modes, dtype rules, the fast
algorithms, chunked runs, the memory budget, explain and verify.

Builds on ``convcli.shapes``; no files, no printing.
"""
