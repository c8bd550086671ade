"""Poll-cycle benchmark launcher: `.venv/bin/python bench/poll.py [--feeds N] [--repeats R]`.

The benchmark itself is in poll_cycle.py. This file stays small because parser worker
processes start by importing the main script: like the `monitor` command, it must not
pull the whole program into every worker, or the memory figures would be the bench's.
"""

if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from poll_cycle import main

    main()
