"""`python -m openai_gemini_vision` runs the `ogv` command line."""

from .cli import main

main()
