"""The `monitor` command: thin typer commands over the functions of the other packages."""
