"""`python -m api.cli …` runs `timeledger …`."""

from api.cli import main

main()
