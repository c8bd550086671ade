"""Poll-cycle benchmark launcher.

    .venv/bin/python bench/poll.py [--feeds N] [--repeats R]        # generated feeds: poll_cycle.py
    .venv/bin/python bench/poll.py --corpus DIR [--peer reader]      # gen_corpus.py: poll_corpus.py
    .venv/bin/python bench/poll.py --steady [--feeds 10000]          # steady state: poll_steady.py

The benchmarks are in those modules. This file stays small because parser worker
processes start by importing the main script: like the `monitor` command, it must not
pull the whole program into every worker, or the memory figures would be the bench's.
"""

if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    if "--steady" in sys.argv:
        from poll_steady import main as steady

        steady([arg for arg in sys.argv[1:] if arg != "--steady"])
    elif any(arg == "--corpus" or arg.startswith("--corpus=") for arg in sys.argv):
        from poll_corpus import main as corpus

        corpus(sys.argv[1:])
    else:
        from poll_cycle import main

        main()
