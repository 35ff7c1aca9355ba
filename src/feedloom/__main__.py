"""``python -m feedloom`` runs the command-line interface."""

from feedloom.cli import main

if __name__ == "__main__":
    main()
