"""``python -m convcli``: the same as the ``convcli`` command."""

if __name__ == "__main__":
    try:
        from convcli.cli import main
    except KeyboardInterrupt:  # Ctrl-C while Python is still importing: one line, exit 130
        import sys

        sys.stderr.write("convcli: interrupted\n")
        raise SystemExit(130) from None
    main()
