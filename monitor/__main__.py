"""`python -m monitor` and the `monitor` command."""


def run() -> None:
    # Imported here, not at the top: parser worker processes start by importing the
    # main module, and should load only the parser, not the whole CLI.
    from monitor.cli.app import main

    main()


if __name__ == "__main__":
    run()
