"""Tensor files: .npy, .npz and JSON reading and writing, checked before any data is read.

Builds on ``convcli.ops`` and ``convcli.shapes``; no printing.
"""
