"""``python -m unseen``: the same as the ``unseen`` command."""

from unseen.cli.main import main

if __name__ == "__main__":
    main()
