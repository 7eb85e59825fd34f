"""``python -m core.analyse ...``: the headless whole-study command, as issue 16 names it
(see :mod:`core.cli.analyse`)."""

if __name__ == "__main__":
    from core.cli.analyse import main

    raise SystemExit(main())
