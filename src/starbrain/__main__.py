"""`python -m starbrain` runs the CLI."""

from starbrain.cli import main

main()
