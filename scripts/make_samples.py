"""Write the lesson's tensors to samples/ as JSON and .npy (run from the repo root).

    python scripts/make_samples.py

The files come from convcli.tensorio.samples (``convcli demo --write DIR`` writes the same);
tests/test_samples.py checks that samples/ still equals them.
"""

from __future__ import annotations

from convcli.tensorio.samples import write_samples


def main() -> None:
    write_samples("samples", force=True)


if __name__ == "__main__":
    main()
