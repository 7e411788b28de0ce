"""``python -m opt``: see :func:`opt.cli.main`."""

from opt.cli import main

if __name__ == "__main__":
    main()
