"""``python -m stackwise.cli``."""

from stackwise.cli import main

main()
