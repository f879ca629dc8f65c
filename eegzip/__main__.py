"""``python -m eegzip`` runs the command line."""

from eegzip.cli import main

main()
