"""`python -m railguard.cli`."""

from railguard.cli import main

main()
