"""`python -m hea_fast ...` = the `hea-fast` command."""
import sys

from hea_fast.cli import main

if __name__ == "__main__":
    sys.exit(main())
