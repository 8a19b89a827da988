"""One module per `costline` subcommand (click commands); the CLI assembles them in `cli.py`."""
